import ConfideJSON
import NIOCore
import NIOHTTP1

/// A `POST /v1/rerank` body in the shape Cohere, Jina and vLLM clients send: `model`, `query` (a string),
/// `documents` (a list of 1 to ``TaskRequests/maximumInputs`` strings, or of objects with a string `text`),
/// `top_n` (a positive integer; all documents when absent) and `return_documents` (a boolean, default false).
/// Other keys are ignored, as clients send extras.
struct RerankRequest: Sendable {
    let model: String
    let query: [UInt8]
    let documents: [[UInt8]]
    let topN: Int?
    let returnDocuments: Bool

    init(parsing body: ByteBuffer) throws(APIError) {
        let object = try TaskRequests.object(body)
        model = try TaskRequests.model(object)
        guard let query = object["query"]?.stringValue else {
            throw APIError(.badRequest, "'query' must be a string", parameter: "query")
        }
        self.query = Array(query.utf8)
        guard let list = object["documents"]?.arrayValue else {
            throw APIError(.badRequest, "'documents' must be a list of strings", parameter: "documents")
        }
        guard !list.isEmpty, list.count <= TaskRequests.maximumInputs else {
            throw APIError(
                .badRequest, "'documents' must hold 1 to \(TaskRequests.maximumInputs) documents",
                parameter: "documents")
        }
        var documents: [[UInt8]] = []
        documents.reserveCapacity(list.count)
        for (index, element) in list.enumerated() {
            guard let text = element.stringValue ?? element.objectValue?["text"]?.stringValue else {
                throw APIError(
                    .badRequest, "documents[\(index)] must be a string or an object with a string 'text'",
                    parameter: "documents")
            }
            documents.append(Array(text.utf8))
        }
        self.documents = documents
        switch object["top_n"] {
        case nil, .null?:
            topN = nil
        case let value?:
            guard let count = value.int64Value, count >= 1, let top = Int(exactly: count) else {
                throw APIError(.badRequest, "'top_n' must be a positive integer", parameter: "top_n")
            }
            topN = top
        }
        switch object["return_documents"] {
        case nil, .null?:
            returnDocuments = false
        case let value?:
            guard let flag = value.boolValue else {
                throw APIError(.badRequest, "'return_documents' must be true or false", parameter: "return_documents")
            }
            returnDocuments = flag
        }
    }
}

/// A `POST /v1/classify` body in vLLM's shape: `model` and `input`, a string or a list of 1 to
/// ``TaskRequests/maximumInputs`` strings. Other keys are ignored.
struct ClassifyRequest: Sendable {
    let model: String
    let texts: [[UInt8]]

    init(parsing body: ByteBuffer) throws(APIError) {
        let object = try TaskRequests.object(body)
        model = try TaskRequests.model(object)
        guard let input = object["input"] else {
            throw APIError(.badRequest, "'input' is required", parameter: "input")
        }
        if let text = input.stringValue {
            texts = [Array(text.utf8)]
            return
        }
        guard let list = input.arrayValue, !list.isEmpty, list.count <= TaskRequests.maximumInputs else {
            throw APIError(
                .badRequest, "'input' must be a string or a list of 1 to \(TaskRequests.maximumInputs) strings",
                parameter: "input")
        }
        var texts: [[UInt8]] = []
        texts.reserveCapacity(list.count)
        for (index, element) in list.enumerated() {
            guard let text = element.stringValue else {
                throw APIError(.badRequest, "input[\(index)] must be a string", parameter: "input")
            }
            texts.append(Array(text.utf8))
        }
        self.texts = texts
    }
}

/// What the task routes' bodies share.
enum TaskRequests {
    /// The most texts (documents) one request may hold, as for embeddings.
    static let maximumInputs = 2048

    /// The body as a JSON object; malformed JSON, another kind of value, or a key given twice is a 400.
    static func object(_ body: ByteBuffer) throws(APIError) -> JSONObject {
        let root: JSONValue
        do {
            root = try body.withUnsafeReadableBytes { raw in try JSONParser.parse(raw.bindMemory(to: UInt8.self)) }
        } catch {
            throw .badRequest("the request body is not valid JSON: \(error)")
        }
        guard let object = root.objectValue else { throw .badRequest("the request body must be a JSON object") }
        return object
    }

    /// The checked model name of `object`.
    static func model(_ object: JSONObject) throws(APIError) -> String {
        guard let name = object["model"]?.stringValue else {
            throw APIError(.badRequest, "'model' must be a model's name", parameter: "model")
        }
        do throws(APIError) {
            return try Router.checkName(name, "model")
        } catch {
            throw APIError(.badRequest, error.message, parameter: "model")
        }
    }
}
