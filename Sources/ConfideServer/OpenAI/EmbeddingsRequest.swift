import ConfideJSON
import NIOCore
import NIOHTTP1

/// A `POST /v1/embeddings` body (OpenAI's `CreateEmbeddingRequest`), read from untrusted bytes with a pull reader:
/// the texts go straight into the layout of a BYTES tensor, and nothing else of the body is kept.
///
/// `input` is a string or a list of 1 to ``maximumInputs`` non-empty strings (OpenAI's token arrays are refused),
/// `model` names a served model, `encoding_format` is `float` (the default) or `base64`, `dimensions` a size to
/// shorten the embeddings to; `user` and keys this API does not know are ignored, as OpenAI clients send extras. A
/// key given twice is refused, so that no two readers of the body can see different values.
struct EmbeddingsRequest: Sendable {
    /// How the embeddings are written in the response.
    enum EncodingFormat: String, Sendable {
        /// A JSON list of numbers.
        case float
        /// The little-endian FP32 bytes, base64-encoded.
        case base64
    }

    /// The most texts one request may hold (OpenAI's limit).
    static let maximumInputs = 2048

    /// The model's name.
    let model: String
    /// The texts as the data of a BYTES tensor: each a 4-byte little-endian length and its UTF-8.
    let texts: [UInt8]
    /// How many texts there are.
    let count: Int
    /// How the embeddings are written.
    let encodingFormat: EncodingFormat
    /// The size to shorten the embeddings to, when the client asks for one.
    let dimensions: Int?

    /// Reads a request body.
    init(parsing body: ByteBuffer) throws(APIError) {
        let result = body.withUnsafeReadableBytes { raw in
            Result { () throws(APIError) in
                var reader = Reader(scanner: JSONScanner(raw.assumingMemoryBound(to: UInt8.self)))
                // A text is never longer than its JSON string, so the texts never outgrow the body and their prefixes.
                reader.texts.reserveCapacity(raw.count + 4 * EmbeddingsRequest.maximumInputs)
                return try reader.read()
            }
        }
        self = try result.get()
    }

    private init(model: String, texts: [UInt8], count: Int, encodingFormat: EncodingFormat, dimensions: Int?) {
        self.model = model
        self.texts = texts
        self.count = count
        self.encodingFormat = encodingFormat
        self.dimensions = dimensions
    }

    /// The body's reader.
    private struct Reader {
        var scanner: JSONScanner
        var texts: [UInt8] = []
        var count = 0

        /// Runs a step of the scanner, turning malformed JSON into a 400. (The scanner throws only `JSONError`.)
        private mutating func scan<T>(_ step: (inout JSONScanner) throws -> T) throws(APIError) -> T {
            do {
                return try step(&scanner)
            } catch {
                throw .badRequest("the request body is not valid JSON: \(error)")
            }
        }

        mutating func read() throws(APIError) -> EmbeddingsRequest {
            guard try scan({ try $0.peekKind() }) == .object else {
                throw .badRequest("the request body must be a JSON object")
            }
            try scan { try $0.openObject() }
            var seen: Set<String> = []
            var model: String?
            var hasInput = false
            var format = EncodingFormat.float
            var dimensions: Int?
            while let key = try scan({ try $0.nextKey() }) {
                if ["input", "model", "encoding_format", "dimensions"].contains(key), !seen.insert(key).inserted {
                    throw APIError(.badRequest, "'\(key)' is given more than once", parameter: key)
                }
                switch key {
                case "input":
                    try readInput()
                    hasInput = true
                case "model":
                    model = try readModel()
                case "encoding_format":
                    format = try readFormat()
                case "dimensions":
                    dimensions = try readDimensions()
                default:
                    try scan { try $0.skipValue() }
                }
            }
            try scan { try $0.expectEnd() }
            guard let model else { throw APIError(.badRequest, "'model' is required", parameter: "model") }
            guard hasInput else { throw APIError(.badRequest, "'input' is required", parameter: "input") }
            return EmbeddingsRequest(
                model: model, texts: texts, count: count, encodingFormat: format, dimensions: dimensions)
        }

        private mutating func readInput() throws(APIError) {
            switch try scan({ try $0.peekKind() }) {
            case .string:
                try readText(index: nil)
            case .array:
                try scan { try $0.openArray() }
                while try scan({ try $0.nextElement() }) {
                    switch try scan({ try $0.peekKind() }) {
                    case .string:
                        try readText(index: count)
                    case .number, .array:
                        throw APIError(
                            .badRequest,
                            "'input' as token ids is not supported: send the texts as a string or a list of strings",
                            parameter: "input")
                    default:
                        throw APIError(
                            .badRequest, "'input' must be a string or a list of strings", parameter: "input")
                    }
                }
                guard count > 0 else {
                    throw APIError(.badRequest, "'input' must not be an empty list", parameter: "input")
                }
            default:
                throw APIError(.badRequest, "'input' must be a string or a list of strings", parameter: "input")
            }
        }

        /// Appends one text as a BYTES element: its length, patched once read, then its UTF-8.
        private mutating func readText(index: Int?) throws(APIError) {
            guard count < EmbeddingsRequest.maximumInputs else {
                throw APIError(
                    .badRequest, "'input' holds more than \(EmbeddingsRequest.maximumInputs) texts", parameter: "input")
            }
            let start = texts.count
            texts.append(contentsOf: [0, 0, 0, 0])
            var texts = self.texts
            self.texts = []
            defer { self.texts = texts }
            try scan { scanner in try scanner.readString { texts.append(contentsOf: $0) } }
            let (length, overflow) = texts.count.subtractingReportingOverflow(start + 4)
            guard !overflow, length > 0, let prefix = UInt32(exactly: length) else {
                let which = index.map { "input[\($0)]" } ?? "'input'"
                let problem = length == 0 ? "\(which) is an empty string" : "\(which) is too long"
                throw APIError(.badRequest, problem, parameter: "input")
            }
            withUnsafeBytes(of: prefix.littleEndian) { bytes in
                for (offset, byte) in bytes.enumerated() { texts[start + offset] = byte }
            }
            count += 1
        }

        private mutating func readModel() throws(APIError) -> String {
            guard try scan({ try $0.peekKind() }) == .string,
                let name = try scan({ try $0.readString(maximumLength: 255) })
            else {
                throw APIError(.badRequest, "'model' must be a model's name", parameter: "model")
            }
            do throws(APIError) {
                return try Router.checkName(name, "model")
            } catch {
                throw APIError(.badRequest, error.message, parameter: "model")
            }
        }

        private mutating func readFormat() throws(APIError) -> EncodingFormat {
            let kind = try scan { try $0.peekKind() }
            if kind == .null {
                try scan { try $0.readNull() }
                return .float
            }
            guard kind == .string, let name = try scan({ try $0.readString(maximumLength: 16) }),
                let format = EncodingFormat(rawValue: name)
            else {
                throw APIError(
                    .badRequest, "'encoding_format' must be \"float\" or \"base64\"", parameter: "encoding_format")
            }
            return format
        }

        private mutating func readDimensions() throws(APIError) -> Int? {
            let kind = try scan { try $0.peekKind() }
            if kind == .null {
                try scan { try $0.readNull() }
                return nil
            }
            guard kind == .number, let size = try scan({ try $0.readNumber() }).integer(as: Int.self), size >= 1 else {
                throw APIError(.badRequest, "'dimensions' must be a positive integer", parameter: "dimensions")
            }
            return size
        }
    }
}
