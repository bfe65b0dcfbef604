import BertModel
import ConfideJSON
import ConfideSDK

/// The `bert` handler: sentence embeddings from a BERT-family encoder in a Hugging Face / sentence-transformers
/// model folder (all-MiniLM-L6-v2 is the reference), computed through the kernel table the runtime provides in
/// the precision `model.json` asks for (`"precision"`: `fp32`, `bf16` or `int8`).
///
/// Requests: a KServe BYTES tensor of texts (named `text`, or any single BYTES input; any shape) gives `embedding`,
/// FP32 `[count, hidden]`, and, when the request names it, `token_count`, INT64 `[count]`: the tokens of each text the
/// encoder saw, [CLS] and [SEP] included, after truncation (the ``Embeddings`` contract, which the OpenAI embeddings
/// API serves); a TorchServe body (`{"text": ...}`, a JSON list of texts, or plain text) gives JSON.
/// The texts of a whole batch run together: their tokens are packed into one matrix for the dense layers
/// (no padding) and attention runs per text.
struct Bert: Handler {
    static let name = "bert"
    static let description = "BERT sentence embeddings (all-MiniLM-L6-v2 and other sentence-transformers encoders)"

    let tokenizer: BertTokenizer
    let encoder: BertEncoder

    init(model: ModelContext) throws {
        guard let kernels = model.kernels else {
            throw HandlerError.unavailable(
                "the bert handler computes through a kernel table, and the runtime provides none: install a kernel "
                    + "plugin (libKernelsPortable.so, libKernelsAVX512.so or libKernelsAMX.so) in the handlers folder")
        }
        let precision = try Self.precision(model.configJSON)
        let parameters = try Self.parameters(model.parametersJSON)
        let attention = try Self.attentionPrecision(parameters, precision: precision)
        if let seed = try Self.randomSeed(parameters) {
            let config: BertConfig
            do {
                config = try BertConfig(json: try model.file("config.json").withUnsafeBytes { Array($0) })
            } catch {
                throw HandlerError.invalidArgument("model '\(model.name)': config.json: \(error)")
            }
            tokenizer = try BertTokenizer.synthetic(size: config.vocabularySize, maxLength: config.maxPositions)
            encoder = try BertEncoder(
                randomWeights: config, seed: seed, kernels: kernels, precision: precision, attention: attention)
        } else {
            // A model from an encrypted archive arrives as in-memory files, which the host keeps until the model
            // is unloaded; otherwise the files are in the model's folder.
            let files: BertModelFiles = model.artifacts.isEmpty
                ? .folder(model.path) : .memory(model.artifacts, origin: "model '\(model.name)' (archive)")
            let checkpoint: BertCheckpoint
            do {
                checkpoint = try BertCheckpoint(files: files)
            } catch {
                throw HandlerError.invalidArgument("model '\(model.name)': \(error.message)")
            }
            tokenizer = checkpoint.tokenizer
            encoder = try BertEncoder(checkpoint: checkpoint, kernels: kernels, precision: precision, attention: attention)
            // Packing read every weight through the mapping; only the embeddings are read from it again, a
            // row per token, so the rest need not stay resident.
            checkpoint.safeTensors.releaseResidentPages()
        }
        let config = encoder.config
        model.log.info(
            "\(config.layerCount) layers, hidden \(config.hiddenSize), \(precision), attention \(attention), "
                + "at most \(tokenizer.maxLength) tokens per text")
    }

    /// `model.json`'s `"parameters"` object (nil when it has none).
    static func parameters(_ parametersJSON: String) throws(HandlerError) -> JSONObject? {
        do {
            return try JSONParser.parse(parametersJSON).objectValue
        } catch {
            throw .invalidArgument("model.json: parameters: \(error)")
        }
    }

    /// The precision of attention's two products (`"parameters": {"attention_precision": "fp32"}` or `"bf16"`; the
    /// softmax is FP32 always). By default FP32 models keep FP32 and BF16 and INT8 models use BF16: for INT8 it is
    /// about 5% faster at batch 8 and lowers the worst cosine to the reference texts from 0.9857 to 0.9807 (the bar
    /// is 0.98; see docs/BERT.md).
    static func attentionPrecision(_ parameters: JSONObject?, precision: Kernels.Precision) throws(HandlerError)
        -> Kernels.Precision
    {
        guard let value = parameters?["attention_precision"] else { return precision == .fp32 ? .fp32 : .bf16 }
        switch value.stringValue {
        case "fp32": return .fp32
        case "bf16": return .bf16
        default: throw .invalidArgument("model.json: \"attention_precision\" must be \"fp32\" or \"bf16\"")
        }
    }

    /// The seed of a model with random weights (`"parameters": {"random_weights": true, "seed": 7}`; seed 0 by
    /// default), or nil for a model whose weights are in its folder.
    static func randomSeed(_ parameters: JSONObject?) throws(HandlerError) -> UInt64? {
        guard let random = parameters?["random_weights"] else { return nil }
        guard let enabled = random.boolValue else { throw .invalidArgument("\"random_weights\" must be true or false") }
        guard enabled else { return nil }
        guard let seed = parameters?["seed"] else { return 0 }
        guard let value = seed.int64Value, value >= 0 else {
            throw .invalidArgument("\"seed\" must be a non-negative integer")
        }
        return UInt64(value)
    }

    /// The precision named by `model.json`'s top-level `"precision"` (FP32 when absent).
    static func precision(_ configJSON: String) throws(HandlerError) -> Kernels.Precision {
        let root: JSONValue
        do {
            root = try JSONParser.parse(configJSON.isEmpty ? "{}" : configJSON)
        } catch {
            throw .invalidArgument("model.json: \(error)")
        }
        guard let value = root.objectValue?["precision"] else { return .fp32 }
        switch value.stringValue {
        case "fp32": return .fp32
        case "bf16": return .bf16
        case "int8": return .int8
        default: throw .invalidArgument("model.json: \"precision\" must be one of \"fp32\", \"bf16\", \"int8\"")
        }
    }

    /// The token ids of UTF-8 `text`; invalid UTF-8 is an invalid-argument error.
    func tokenize(_ text: [UInt8]) throws(HandlerError) -> [Int32] {
        let result = text.withUnsafeBytes { bytes in
            Result { () throws(BertModelError) in try tokenizer.encode(utf8: bytes) }
        }
        return try result.mapError { HandlerError.invalidArgument($0.message) }.get()
    }

    var inputs: [TensorSpec] { [Embeddings.text] }
    var outputs: [TensorSpec] { [Embeddings.embedding(dimensions: encoder.width), Embeddings.tokenCount] }

    func makeInstance(worker: WorkerContext) throws -> BertInstance {
        BertInstance(model: self)
    }
}

/// One worker's state: its scratch memory.
struct BertInstance: HandlerInstance {
    let model: Bert
    let scratch = Scratch()

    mutating func execute(_ batch: Batch) throws {
        var ids: [Int32] = []
        var lengths: [Int] = []
        var jobs: [(request: Request, reply: Reply, first: Int, count: Int)] = []
        for request in batch {
            do {
                let (texts, reply) = try Self.parse(request)
                var encoded: [Int32] = []
                var encodedLengths: [Int] = []
                for text in texts {
                    let ids = try model.tokenize(text)
                    encoded += ids
                    encodedLengths.append(ids.count)
                }
                jobs.append((request, reply, lengths.count, texts.count))
                ids += encoded
                lengths += encodedLengths
            } catch {
                request.fail(HandlerError(wrapping: error))
            }
        }
        let width = model.encoder.width
        let embeddings = scratch.embeddings(count: lengths.count * width)
        try model.encoder.encode(ids, lengths: lengths, into: embeddings, scratch: scratch)
        for job in jobs {
            let range = (job.first * width)..<((job.first + job.count) * width)
            let rows = UnsafeBufferPointer(rebasing: embeddings[range])
            do {
                try job.reply.respond(job.request, rows: rows, count: job.count, width: width)
                if case .kserve = job.reply, job.request.names(output: Embeddings.tokenCountOutput) {
                    let counts = lengths[job.first..<(job.first + job.count)].map { Int64($0) }
                    try job.request.respond(
                        Embeddings.tokenCountOutput, dataType: .int64, shape: [Int64(job.count)], elements: counts)
                }
            } catch {
                job.request.fail(HandlerError(wrapping: error))
            }
        }
    }

    /// A request's texts (UTF-8) and how to answer it.
    static func parse(_ request: Request) throws(HandlerError) -> ([[UInt8]], Reply) {
        let inputs = try request.inputs()
        let isTorchServe = inputs.allSatisfy { $0.name == "body" || $0.name == "content_type" }
        if isTorchServe, let body = inputs.first(where: { $0.name == "body" }) {
            let elements = try body.byteElements()
            guard elements.count == 1, let bytes = elements.first else {
                throw .invalidArgument("input 'body' must hold one element, not \(elements.count)")
            }
            let contentType = try inputs.first(where: { $0.name == "content_type" })?.strings().first
            let (texts, single) = try TorchServeBody.texts(Array(bytes), contentType: contentType)
            return (texts, .torchServe(single: single))
        }
        let candidates = inputs.filter { $0.dataType == .bytes }
        guard let input = inputs.first(where: { $0.name == "text" }) ?? (candidates.count == 1 ? candidates.first : nil)
        else {
            throw .invalidArgument("expected a BYTES input 'text' holding the texts to embed")
        }
        return (try input.byteElements().map { Array($0) }, .kserve)
    }
}

/// How a request gets its embeddings back.
enum Reply {
    /// KServe: `embedding`, FP32 `[count, width]`.
    case kserve
    /// TorchServe: `body` with JSON (one embedding for a single text, else a list) and `content_type`.
    case torchServe(single: Bool)

    func respond(_ request: Request, rows: UnsafeBufferPointer<Float>, count: Int, width: Int) throws(HandlerError) {
        switch self {
        case .kserve:
            let out = try request.addOutput(
                name: "embedding", dataType: .fp32, shape: [Int64(count), Int64(width)], byteCount: rows.count * 4)
            if !rows.isEmpty { out.copyMemory(from: UnsafeRawBufferPointer(rows)) }
        case .torchServe(let single):
            var writer = JSONWriter(capacity: count * width * 12 + 16)
            if !single { writer.raw("[") }
            for row in 0..<count {
                if row > 0 { writer.raw(",") }
                writer.raw("[")
                for j in 0..<width {
                    if j > 0 { writer.raw(",") }
                    writer.number(rows[row * width + j])
                }
                writer.raw("]")
            }
            if !single { writer.raw("]") }
            let json = writer.bytes
            let out = try request.addOutput(
                name: "body", dataType: .bytes, shape: [1], byteCount: try BytesElements.encodedSize([json]))
            try BytesElements.encode([json], into: out)
            try request.respond("content_type", strings: ["application/json"])
        }
    }
}

/// The texts of a TorchServe request body.
enum TorchServeBody {
    /// `{"text": "..."}` or a JSON string (one text), `{"text": [...]}` or a JSON list of strings (several), or,
    /// when the body is not JSON, the body itself as one text. A body is JSON when its content type says so
    /// (`application/json`, `…+json`), or, with a content type that is not `text/…`, when it starts with `{`, `[`
    /// or `"`; malformed JSON is an invalid-argument error.
    static func texts(_ body: [UInt8], contentType: String?) throws(HandlerError) -> ([[UInt8]], single: Bool) {
        let mediaType = String((contentType ?? "").prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }).lowercased()
        let first = body.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        let isJSON: Bool
        if mediaType == "application/json" || mediaType.hasSuffix("+json") {
            isJSON = true
        } else if mediaType.hasPrefix("text/") {
            isJSON = false
        } else {
            isJSON = first.map { [UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\"")].contains($0) } ?? false
        }
        guard isJSON else { return ([body], true) }
        let root: JSONValue
        do {
            root = try JSONParser.parse(body)
        } catch {
            throw .invalidArgument("the request body is not valid JSON: \(error)")
        }
        let value = root.objectValue?["text"] ?? root
        if let text = value.stringValue { return ([Array(text.utf8)], true) }
        if let list = value.arrayValue {
            var texts: [[UInt8]] = []
            for element in list {
                guard let text = element.stringValue else {
                    throw .invalidArgument("a JSON list of texts must hold only strings, found \(element.kindName)")
                }
                texts.append(Array(text.utf8))
            }
            return (texts, false)
        }
        throw .invalidArgument(#"expected {"text": "..."}, a JSON list of texts, or a plain-text body"#)
    }
}

/// The plugin's entry point: negotiates the ABI and returns the `bert` handler's descriptor.
@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? { Bert.export(major, minor) }
