import CConfide

/// One request of a batch. Answer it with ``addOutput(name:dataType:shape:byteCount:)`` (or the
/// conveniences built on it), a request that came with a ``body`` also with ``respond(body:contentType:)``,
/// or fail it alone with ``fail(_:)``.
public struct Request {
    let raw: UnsafePointer<ConfideRequest>
    let host: UnsafePointer<ConfideHostApi>

    /// The client's request id; empty when it sent none.
    public var id: String { raw.pointee.id.map { String(cString: $0) } ?? "" }

    /// The input tensors.
    public func inputs() throws(HandlerError) -> [Tensor] {
        let request = raw.pointee
        var tensors: [Tensor] = []
        tensors.reserveCapacity(Int(request.input_count))
        for index in 0..<Int(request.input_count) {
            guard let tensor = request.inputs[index] else { throw .internal("host passed a null input") }
            tensors.append(try Tensor(tensor))
        }
        return tensors
    }

    /// The input with the given name. Throws an invalid-argument error when it is missing.
    public func input(_ name: String) throws(HandlerError) -> Tensor {
        guard let tensor = try inputs().first(where: { $0.name == name }) else {
            throw .invalidArgument("missing input '\(name)'")
        }
        return tensor
    }

    /// The raw body of a request that carries no tensors (TorchServe's `POST /predictions/{model}`), valid until
    /// `execute` returns; `nil` for a tensor request. Answer such a request with ``respond(body:contentType:)``, or
    /// with outputs, which the server returns as JSON.
    public var body: UnsafeRawBufferPointer? { attribute(CONFIDE_ATTRIBUTE_BODY) }

    /// The request's content type as the client sent it, e.g. `application/json`; `nil` when it named none.
    public var contentType: String? { text(CONFIDE_ATTRIBUTE_CONTENT_TYPE) }

    /// The value of the request header `name` (in any case), several fields of one name joined with `, `; `nil`
    /// when the request has no such header. Credentials (`Authorization`, `Proxy-Authorization`, `Cookie`) never
    /// reach a handler.
    public func header(_ name: String) -> String? {
        text(CONFIDE_ATTRIBUTE_HEADER_PREFIX + name.lowercased())
    }

    /// The bytes of the request attribute `name` (`CONFIDE_ATTRIBUTE_*` in `confide.h`), valid until `execute`
    /// returns; `nil` when the request has no such attribute.
    public func attribute(_ name: String) -> UnsafeRawBufferPointer? {
        var data: UnsafeRawPointer?
        var size: UInt64 = 0
        let found = name.withCString { host.pointee.request_attribute(raw, $0, &data, &size) }
        guard found != 0, let count = Int(exactly: size) else { return nil }
        return UnsafeRawBufferPointer(start: data, count: count)
    }

    private func text(_ name: String) -> String? {
        attribute(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The output names the client asked for; empty when it wants every output.
    public var requestedOutputs: [String] {
        let request = raw.pointee
        return (0..<Int(request.requested_output_count)).compactMap { index in
            request.requested_outputs[index].map { String(cString: $0) }
        }
    }

    /// Adds an output and returns its memory (owned by the host) for the handler to fill before
    /// `execute` returns. `byteCount` must match the shape, except for BYTES tensors.
    public func addOutput(name: String, dataType: DataType, shape: [Int64], byteCount: Int)
        throws(HandlerError) -> UnsafeMutableRawBufferPointer
    {
        var data: UnsafeMutableRawPointer?
        let error = name.withCString { cName in
            shape.withUnsafeBufferPointer { dims in
                host.pointee.response_add_output(
                    raw.pointee.response, cName, dataType.rawValue, dims.baseAddress, UInt32(dims.count),
                    UInt64(byteCount), &data)
            }
        }
        if let error { throw HostErrors.take(error, host: host) }
        return UnsafeMutableRawBufferPointer(start: data, count: byteCount)
    }

    /// Adds an output holding a copy of `tensor`.
    public func respond(_ name: String, copying tensor: Tensor) throws(HandlerError) {
        let out = try addOutput(
            name: name, dataType: tensor.dataType, shape: tensor.shape, byteCount: tensor.bytes.count)
        if !tensor.bytes.isEmpty { out.copyMemory(from: tensor.bytes) }
    }

    /// Adds an output of fixed-size elements.
    public func respond<T: BitwiseCopyable>(_ name: String, dataType: DataType, shape: [Int64], elements: [T])
        throws(HandlerError)
    {
        guard dataType.elementSize == MemoryLayout<T>.size else {
            throw .internal("output '\(name)': \(T.self) does not match \(dataType)")
        }
        let out = try addOutput(
            name: name, dataType: dataType, shape: shape, byteCount: elements.count * MemoryLayout<T>.stride)
        elements.withUnsafeBytes { if !$0.isEmpty { out.copyMemory(from: $0) } }
    }

    /// Adds a BYTES output whose elements are the UTF-8 of `strings`.
    public func respond(_ name: String, strings: [String], shape: [Int64]? = nil) throws(HandlerError) {
        let elements = strings.map { Array($0.utf8) }
        let out = try addOutput(
            name: name, dataType: .bytes, shape: shape ?? [Int64(strings.count)],
            byteCount: try BytesElements.encodedSize(elements))
        try BytesElements.encode(elements, into: out)
    }

    /// Answers a request that came with a ``body`` with a body of `byteCount` bytes and its content type, instead of
    /// output tensors, and returns the body's memory (owned by the host) for the handler to fill before `execute`
    /// returns. The server sends it to the client as it is.
    public func addBody(contentType: String, byteCount: Int) throws(HandlerError) -> UnsafeMutableRawBufferPointer {
        var data: UnsafeMutableRawPointer?
        let error = contentType.withCString {
            host.pointee.response_set_body(raw.pointee.response, $0, UInt64(byteCount), &data)
        }
        if let error { throw HostErrors.take(error, host: host) }
        return UnsafeMutableRawBufferPointer(start: data, count: byteCount)
    }

    /// Answers a request that came with a ``body`` with `body` and its content type, instead of output tensors.
    public func respond(body: [UInt8], contentType: String) throws(HandlerError) {
        let out = try addBody(contentType: contentType, byteCount: body.count)
        body.withUnsafeBytes { if !$0.isEmpty { out.copyMemory(from: $0) } }
    }

    /// Fails this request alone; outputs or a body already added are discarded.
    public func fail(_ error: HandlerError) {
        host.pointee.response_fail(raw.pointee.response, HostErrors.make(error, host: host))
    }
}

/// The requests a worker executes together. Every request gets its own response.
public struct Batch: RandomAccessCollection {
    let requests: [Request]

    init(_ requests: UnsafeBufferPointer<UnsafePointer<ConfideRequest>?>, host: UnsafePointer<ConfideHostApi>) {
        self.requests = requests.compactMap { $0.map { Request(raw: $0, host: host) } }
    }

    public var startIndex: Int { requests.startIndex }
    public var endIndex: Int { requests.endIndex }
    public subscript(position: Int) -> Request { requests[position] }
}

enum HostErrors {
    static func make(_ error: HandlerError, host: UnsafePointer<ConfideHostApi>) -> OpaquePointer? {
        error.message.withCString { host.pointee.error_new(error.code.rawValue, $0) }
    }

    /// Turns an error returned by a host function into a `HandlerError`, handing it back to the host.
    static func take(_ error: OpaquePointer, host: UnsafePointer<ConfideHostApi>) -> HandlerError {
        defer { host.pointee.error_delete(error) }
        let code = HandlerError.Code(rawValue: host.pointee.error_code(error)) ?? .unknown
        let message = host.pointee.error_message(error).map { String(cString: $0) } ?? ""
        return HandlerError(code, message)
    }
}
