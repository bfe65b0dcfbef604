import ConfideAttestation
import ConfideKServe
import ConfideSDK
import ConfideTensors
import NIOCore
import NIOHTTP1

/// Entry points for fuzzing the server's parsers of untrusted bytes (see `Tests/Fuzz`). Each must
/// return normally on any input.
public enum ServerFuzz {
    /// Decodes `bytes` as a KServe v2 inference request body; the first byte, when present, picks a
    /// split point for the binary tensor extension's JSON header.
    public static func inferRequest(_ bytes: [UInt8]) {
        guard let (body, headerLength) = KServeFuzz.split(bytes) else { return }
        if let request = try? KServeCodec.decodeRequest(body: body, headerLength: headerLength) {
            for input in request.inputs {
                precondition(input.consistencyProblem() == nil, "accepted an inconsistent input '\(input.name)'")
            }
        }
    }

    /// Reads `bytes` as an OpenAI `POST /v1/embeddings` body; a request it accepts must hold 1 to 2048 non-empty
    /// texts laid out as the BYTES tensor it claims, and a positive `dimensions` if any.
    public static func embeddingsRequest(_ bytes: [UInt8]) {
        guard let request = try? EmbeddingsRequest(parsing: ByteBuffer(bytes: bytes)) else { return }
        let elements = request.texts.withUnsafeBytes { try? BytesElements.decode($0).map(\.count) }
        precondition((1...EmbeddingsRequest.maximumInputs).contains(request.count), "accepted \(request.count) texts")
        precondition(elements?.count == request.count, "the texts do not match their count")
        precondition(elements?.allSatisfy { $0 > 0 } == true, "accepted an empty text")
        precondition(request.dimensions.map { $0 >= 1 } ?? true, "accepted dimensions below 1")
    }

    /// Reads `bytes` as a `POST /v1/rerank` and as a `POST /v1/classify` body; a request either accepts must hold 1
    /// to 2048 documents or texts, and a positive `top_n` if any.
    public static func taskRequest(_ bytes: [UInt8]) {
        if let rerank = try? RerankRequest(parsing: ByteBuffer(bytes: bytes)) {
            precondition(
                (1...TaskRequests.maximumInputs).contains(rerank.documents.count), "accepted that many documents")
            precondition(rerank.topN.map { $0 >= 1 } ?? true, "accepted top_n below 1")
        }
        if let classify = try? ClassifyRequest(parsing: ByteBuffer(bytes: bytes)) {
            precondition((1...TaskRequests.maximumInputs).contains(classify.texts.count), "accepted that many texts")
        }
    }

    /// Parses `bytes` as the query string of `GET /attestation`; a nonce it accepts must be 16 to 64 bytes.
    public static func attestationQuery(_ bytes: [UInt8]) {
        let query = String(decoding: bytes, as: UTF8.self)
        if let parameters = try? QueryParameters(parsing: query[...]), let nonce = try? AttestationAPI.nonce(parameters)
        {
            precondition((16...64).contains(nonce.count), "accepted a nonce of \(nonce.count) bytes")
        }
    }

    /// Unwraps `bytes` as the Confidential Containers attestation agent's evidence answer; evidence it accepts must
    /// be a whole SEV-SNP report or a TDX quote within its size limit.
    public static func cocoEvidence(_ bytes: [UInt8]) {
        guard let answer = try? CoCoAttestationAgent.parseEvidence(bytes) else { return }
        switch answer.evidence.type {
        case .snpReport:
            precondition(answer.evidence.bytes.count == SNPReport.size, "rebuilt a report of another size")
        case .tdxQuote:
            precondition(answer.evidence.bytes.count <= TDXQuote.maximumSize, "accepted an oversized quote")
        case .simulated: preconditionFailure("unwrapped simulated evidence")
        }
    }

    /// Routes `bytes` as a request target: the first byte picks the listener and the method. A route it accepts
    /// must name only models and versions that a model store could hold.
    public static func route(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let surfaces: [Surface] = [.inference, .management, .metrics]
        let methods: [HTTPMethod] = [.GET, .POST, .PUT, .DELETE]
        let request = ServerRequest(
            method: methods[Int(first >> 2) % methods.count], uri: String(decoding: bytes.dropFirst(), as: UTF8.self))
        let router = Router(surface: surfaces[Int(first) % surfaces.count])
        guard let route = try? router.route(method: request.method, path: request.path, query: request.query) else {
            return
        }
        for name in [route.model, route.version].compactMap({ $0 }) {
            precondition(!name.isEmpty && !name.contains("/") && name != "..", "routed a name a store cannot hold")
        }
    }

    /// Parses `bytes` as a management query string and reads its paging and worker parameters as the management
    /// API does; every value it accepts must be within its range.
    public static func managementQuery(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let query = try? QueryParameters(parsing: text[...]) else { return }
        for (name, range) in [
            ("limit", 1...ManagementAPI.maximumPageSize), ("min_worker", 0...ManagementAPI.maximumWorkers),
        ] {
            if let value = try? query.integer(name, in: range) {
                precondition(range.contains(value), "accepted \(value)")
            }
        }
    }
}
