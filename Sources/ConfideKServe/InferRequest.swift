public import ConfideTensors

/// An output a client asks for.
public struct RequestedOutput: Sendable, Equatable {
    /// The output's name.
    public var name: String
    /// Whether it wants the output as binary data; `nil` follows the request's default.
    public var binary: Bool?

    /// Names an output, as binary data or not (`nil`: the request's default).
    public init(name: String, binary: Bool? = nil) {
        self.name = name
        self.binary = binary
    }
}

/// A KServe v2 inference request, decoded and checked.
public struct InferRequest: Sendable {
    /// The client's request id, echoed in the response.
    public var id: String?
    /// The input tensors, each consistent with its shape and type.
    public var inputs: [HostTensor]
    /// The outputs asked for; empty for all.
    public var outputs: [RequestedOutput]
    /// The request-level `binary_data_output` parameter: binary outputs unless an output says otherwise.
    public var binaryOutputsByDefault: Bool
    /// The request-level `timeout` parameter (microseconds): how long it may wait for a worker.
    public var timeout: Duration?

    /// Creates a request.
    public init(
        id: String? = nil, inputs: [HostTensor], outputs: [RequestedOutput] = [], binaryOutputsByDefault: Bool = false,
        timeout: Duration? = nil
    ) {
        self.id = id
        self.inputs = inputs
        self.outputs = outputs
        self.binaryOutputsByDefault = binaryOutputsByDefault
        self.timeout = timeout
    }
}
