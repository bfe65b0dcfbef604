public import CConfide
public import ConfideSDK
import ConfideTensors
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The host's side of the ABI: the function table every plugin receives.
public enum HostAPI {
    /// Where plugin log lines go. The runtime points this at its logger; by default lines go to stderr.
    public static func setLogSink(_ sink: @escaping @Sendable (HostLogLevel, String) -> Void) {
        logSink.withLock { $0 = sink }
    }

    /// The table, valid for the life of the process.
    nonisolated(unsafe) public static let table: UnsafePointer<ConfideHostApi> = {
        let table = UnsafeMutablePointer<ConfideHostApi>.allocate(capacity: 1)
        table.initialize(
            to: ConfideHostApi(
                struct_size: UInt32(MemoryLayout<ConfideHostApi>.size),
                abi_major: UInt32(CONFIDE_ABI_MAJOR),
                abi_minor: UInt32(CONFIDE_ABI_MINOR),
                reserved: 0,
                error_new: { code, message in
                    ErrorBox.make(
                        HandlerError(
                            HandlerError.Code(rawValue: code) ?? .unknown,
                            message.map { String(cString: $0) } ?? ""))
                },
                error_code: { error in error.map { ErrorBox.peek($0).code.rawValue } ?? 0 },
                error_message: { error in error.map { UnsafePointer(ErrorBox.box($0).cMessage) } },
                error_delete: { error in if let error { _ = ErrorBox.take(error) } },
                log: { level, message in
                    let text = message.map { String(cString: $0) } ?? ""
                    let sink = logSink.withLock { $0 }
                    sink(HostLogLevel(rawValue: level) ?? .info, text)
                },
                aligned_alloc: { alignment, size in
                    var pointer: UnsafeMutableRawPointer?
                    let alignment = max(Int(alignment), MemoryLayout<UnsafeRawPointer>.size)
                    guard alignment.nonzeroBitCount == 1,
                        posix_memalign(&pointer, alignment, max(Int(size), 1)) == 0
                    else { return nil }
                    return pointer
                },
                aligned_free: { pointer in free(pointer) },
                request_attribute: { request, name, outData, outSize in
                    outData?.pointee = nil
                    outSize?.pointee = 0
                    guard let request, let name, let response = request.pointee.response,
                        let value = ResponseCollector.from(response).attribute(name)
                    else { return 0 }
                    outData?.pointee = value.baseAddress
                    outSize?.pointee = UInt64(value.count)
                    return 1
                },
                response_add_output: { response, name, datatype, shape, rank, byteSize, outData in
                    guard let response, let outData else {
                        return ErrorBox.make(.internal("response_add_output called without a response"))
                    }
                    let collector = ResponseCollector.from(response)
                    let dims = (0..<Int(rank)).compactMap { shape?[$0] }
                    switch collector.addOutput(
                        name: name.map { String(cString: $0) } ?? "", dataType: datatype, shape: dims,
                        byteCount: byteSize)
                    {
                    case .success(let buffer):
                        outData.pointee = buffer.baseAddress
                        return nil
                    case .failure(let error):
                        return ErrorBox.make(error)
                    }
                },
                response_set_body: { response, contentType, byteSize, outData in
                    guard let response, let outData else {
                        return ErrorBox.make(.internal("response_set_body called without a response"))
                    }
                    let collector = ResponseCollector.from(response)
                    let type = contentType.map { String(cString: $0) } ?? ""
                    switch collector.setBody(contentType: type, byteCount: byteSize) {
                    case .success(let buffer):
                        outData.pointee = buffer.baseAddress
                        return nil
                    case .failure(let error):
                        return ErrorBox.make(error)
                    }
                },
                response_fail: { response, error in
                    let failure = error.map { ErrorBox.take($0) } ?? .internal("a request was failed without an error")
                    guard let response else { return }
                    ResponseCollector.from(response).fail(failure)
                },
                parallel_for: { count, grain, context, body in
                    guard let body, count > 0 else { return }
                    if let team = ThreadTeam.current, let count = Int(exactly: count) {
                        team.parallelFor(count: count, grain: Int(clamping: grain), context: context, body: body)
                    } else {
                        body(context, 0, count)
                    }
                },
                parallel_thread_count: { UInt32(ThreadTeam.current?.size ?? 1) },
                kernels: { UnsafePointer(bitPattern: chosenKernels.load(ordering: .acquiring)) }))
        return UnsafePointer(table)
    }()

    /// Initialises a kernel plugin's table with this host (its `init`), so it can be called directly,
    /// e.g. by tests and benchmarks. Safe to call more than once.
    public static func initialize(kernels plugin: LoadedPlugin) throws(HandlerError) -> UnsafePointer<ConfideKernelApi>
    {
        guard let api = plugin.kernelAPI, let initialize = api.pointee.`init` else {
            throw HandlerError(.invalidArgument, "'\(plugin.name)' is not a kernel plugin")
        }
        if let error = initialize(table) {
            throw ErrorBox.take(error)
        }
        return api
    }

    /// Initialises `plugin`'s kernel table and makes it the one `ConfideHostApi.kernels` hands to every
    /// handler; `nil` withdraws it. Choose before models load: a handler may keep the table it got.
    public static func useKernels(_ plugin: LoadedPlugin?) throws(HandlerError) {
        guard let plugin else {
            chosenKernels.store(0, ordering: .releasing)
            return
        }
        let api = try initialize(kernels: plugin)
        chosenKernels.store(UInt(bitPattern: api), ordering: .releasing)
    }

    /// Makes `table` the kernel table `ConfideHostApi.kernels` hands to every handler: a table whose functions
    /// are ready to call, e.g. a profiler's that forwards to an initialised plugin's. `nil` withdraws it. The
    /// table must stay valid for the life of the process.
    public static func useKernels(table: UnsafePointer<ConfideKernelApi>?) {
        chosenKernels.store(table.map { UInt(bitPattern: $0) } ?? 0, ordering: .releasing)
    }

    /// The kernel table handlers get, if one was chosen.
    public static var kernels: UnsafePointer<ConfideKernelApi>? {
        UnsafePointer(bitPattern: chosenKernels.load(ordering: .acquiring))
    }

    private static let chosenKernels = Atomic<UInt>(0)

    private static let logSink = Mutex<@Sendable (HostLogLevel, String) -> Void>({ level, message in
        let line = "[\(level)] \(message)\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    })
}

/// The level of a plugin's log line.
public enum HostLogLevel: UInt32, Sendable {
    case error = 0
    case warning = 1
    case info = 2
    case debug = 3
}

/// The host's error objects: what a `ConfideError *` points to.
final class ErrorBox {
    let error: HandlerError
    let cMessage: UnsafeMutablePointer<CChar>

    private init(_ error: HandlerError) {
        self.error = error
        self.cMessage = strdup(error.message)
    }

    deinit { free(cMessage) }

    /// A new error object, owned by whoever receives it until it comes back to the host.
    static func make(_ error: HandlerError) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(ErrorBox(error)).toOpaque())
    }

    static func box(_ pointer: OpaquePointer) -> ErrorBox {
        Unmanaged<ErrorBox>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }

    static func peek(_ pointer: OpaquePointer) -> HandlerError { box(pointer).error }

    /// Reads an error object that came back to the host and frees it.
    static func take(_ pointer: OpaquePointer) -> HandlerError {
        Unmanaged<ErrorBox>.fromOpaque(UnsafeRawPointer(pointer)).takeRetainedValue().error
    }
}

/// The host's response objects: what a `ConfideResponse *` points to. Holds one request's attributes and collects
/// its answer.
final class ResponseCollector {
    private(set) var outputs: [HostTensor] = []
    private(set) var body: HostResponse.Body?
    private(set) var failure: HandlerError?
    /// The request's attributes by name, in memory that lives until the handler returns.
    private let attributes: [String: UnsafeRawBufferPointer]

    init(attributes: [String: UnsafeRawBufferPointer] = [:]) {
        self.attributes = attributes
    }

    static func from(_ pointer: OpaquePointer) -> ResponseCollector {
        Unmanaged<ResponseCollector>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }

    /// The attribute `name` (a C string), if the request has it.
    func attribute(_ name: UnsafePointer<CChar>) -> UnsafeRawBufferPointer? {
        attributes.isEmpty ? nil : attributes[String(cString: name)]
    }

    func addOutput(name: String, dataType rawType: UInt32, shape: [Int64], byteCount: UInt64)
        -> Result<TensorBuffer, HandlerError>
    {
        guard failure == nil else { return .failure(.internal("output '\(name)' added to a failed request")) }
        guard body == nil else { return .failure(.internal("output '\(name)' added to a response that has a body")) }
        guard !name.isEmpty else { return .failure(.internal("output without a name")) }
        guard !outputs.contains(where: { $0.name == name }) else {
            return .failure(.internal("output '\(name)' added twice"))
        }
        guard let dataType = DataType(rawValue: rawType) else {
            return .failure(.internal("output '\(name)' has unknown datatype \(rawType)"))
        }
        guard let count = Int(exactly: byteCount), Shape.elementCount(shape) != nil else {
            return .failure(.internal("output '\(name)' has an invalid shape \(shape)"))
        }
        if dataType != .bytes, dataType.byteCount(forShape: shape) != count {
            return .failure(.internal("output '\(name)': \(count) bytes do not match shape \(shape) of \(dataType)"))
        }
        guard let buffer = TensorBuffer(count: count) else {
            return .failure(.unavailable("out of memory for output '\(name)' (\(count) bytes)"))
        }
        outputs.append(HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer))
        return .success(buffer)
    }

    func setBody(contentType: String, byteCount: UInt64) -> Result<TensorBuffer, HandlerError> {
        guard failure == nil else { return .failure(.internal("a body set on a failed request")) }
        guard attributes[CONFIDE_ATTRIBUTE_BODY] != nil else {
            return .failure(
                .internal("a body answers only a request that came with a body; answer tensors with outputs"))
        }
        guard outputs.isEmpty else { return .failure(.internal("a body set on a response that has outputs")) }
        guard body == nil else { return .failure(.internal("a body set twice")) }
        // It becomes a header of the HTTP response: no control characters (no CR or LF).
        guard !contentType.isEmpty, contentType.utf8.allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }) else {
            return .failure(
                .internal("a body's content type must be a header value, not \(contentType.debugDescription)"))
        }
        guard let count = Int(exactly: byteCount), let buffer = TensorBuffer(count: count) else {
            return .failure(.unavailable("out of memory for a body of \(byteCount) bytes"))
        }
        body = HostResponse.Body(contentType: contentType, bytes: buffer)
        return .success(buffer)
    }

    func fail(_ error: HandlerError) {
        if failure == nil { failure = error }
        outputs.removeAll()
        body = nil
    }

    /// The request's result once the handler returned.
    func result(batchError: HandlerError?) -> Result<HostResponse, HandlerError> {
        if let failure { return .failure(failure) }
        if let batchError { return .failure(batchError) }
        for output in outputs {
            if let problem = output.consistencyProblem() { return .failure(.internal("handler output: \(problem)")) }
        }
        return .success(HostResponse(outputs: outputs, body: body))
    }
}
