public import ConfideTensors

/// One request as the host hands it to a handler: tensors, or (a request that carries no tensors, as TorchServe's
/// `/predictions`) a raw body; and the metadata a handler reads as request attributes.
public struct HostRequest: Sendable {
    /// The client's request id, empty when none.
    public var id: String
    /// The input tensors.
    public var inputs: [HostTensor]
    /// The outputs the client asked for; empty for all.
    public var requestedOutputs: [String]
    /// The raw body of a request that carries no tensors; `nil` for a tensor request. A handler may answer a request
    /// with a body with a body of its own.
    public var body: TensorBuffer?
    /// The request's content type, when the client named one.
    public var contentType: String?
    /// Request headers a handler may read, by lower-case name (several fields of one name joined with `, `, in
    /// order); never credentials, which ``init(id:inputs:requestedOutputs:body:contentType:headers:)`` leaves out.
    public private(set) var headers: [String: String]

    /// Creates a request. `headers` are fields as received (names in any case); credentials (`Authorization`,
    /// `Proxy-Authorization`, `Cookie`) are dropped, so they never reach a handler.
    public init(
        id: String = "", inputs: [HostTensor] = [], requestedOutputs: [String] = [], body: TensorBuffer? = nil,
        contentType: String? = nil, headers: [(name: String, value: String)] = []
    ) {
        self.id = id
        self.inputs = inputs
        self.requestedOutputs = requestedOutputs
        self.body = body
        self.contentType = contentType
        var kept: [String: String] = [:]
        for (name, value) in headers {
            let name = name.lowercased()
            guard !Self.credentials.contains(name) else { continue }
            kept[name] = kept[name].map { "\($0), \(value)" } ?? value
        }
        self.headers = kept
    }

    /// Headers that carry credentials, which a handler never sees.
    public static let credentials: Set<String> = ["authorization", "proxy-authorization", "cookie"]
}

/// A handler's answer to one request: output tensors, or a body with its content type.
public struct HostResponse: Sendable {
    /// A body a handler answered a request that came with a body with, sent to the client as it is.
    public struct Body: Sendable {
        /// Its content type, e.g. `application/json`.
        public var contentType: String
        /// Its bytes.
        public var bytes: TensorBuffer

        /// Creates a body.
        public init(contentType: String, bytes: TensorBuffer) {
            self.contentType = contentType
            self.bytes = bytes
        }
    }

    /// The output tensors; empty when the handler answered with a body.
    public var outputs: [HostTensor]
    /// The body, when the handler answered with one instead of outputs.
    public var body: Body?

    /// Creates a response.
    public init(outputs: [HostTensor] = [], body: Body? = nil) {
        self.outputs = outputs
        self.body = body
    }
}
