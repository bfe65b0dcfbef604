import CConfide
public import ConfideSDK
public import ConfideTensors

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the host tells a handler about the model it loads.
public struct ModelLoadConfig: Sendable {
    /// The model's name.
    public var name: String
    /// The version being loaded.
    public var version: String
    /// The folder holding this version's artifacts.
    public var path: String
    /// The model's `model.json`, as written.
    public var configJSON: String
    /// The `parameters` object of `model.json`, as JSON text.
    public var parametersJSON: String
    /// The model's files held in memory (a model from an archive), by relative path; empty when the
    /// files are in `path`.
    public var artifacts: [String: TensorBuffer]

    /// Creates a configuration.
    public init(
        name: String, version: String = "1", path: String = "", configJSON: String = "{}",
        parametersJSON: String = "{}", artifacts: [String: TensorBuffer] = [:]
    ) {
        self.name = name
        self.version = version
        self.path = path
        self.configJSON = configJSON
        self.parametersJSON = parametersJSON
        self.artifacts = artifacts
    }
}

/// The worker an instance is created for.
public struct WorkerInfo: Sendable {
    /// The worker's index among the model's workers.
    public var index: Int
    /// The NUMA node it runs on, when known.
    public var numaNode: Int?
    /// The cores it owns.
    public var coreCount: Int

    /// Creates a worker description.
    public init(index: Int = 0, numaNode: Int? = nil, coreCount: Int = 1) {
        self.index = index
        self.numaNode = numaNode
        self.coreCount = coreCount
    }
}

/// A model loaded by a handler plugin. Unloaded when the last reference goes, after its instances.
public final class PluginModel: @unchecked Sendable {
    /// The handler that loaded it.
    public let plugin: LoadedPlugin
    /// The model's inputs, as the handler describes them.
    public let inputs: [TensorSpec]
    /// The model's outputs, as the handler describes them.
    public let outputs: [TensorSpec]
    let api: UnsafePointer<ConfideHandlerApi>
    /// The plugin's context, passed back to every handler function.
    let context: UnsafeMutableRawPointer?
    let state: OpaquePointer
    /// The in-memory artifacts and their C descriptions, kept until the model is unloaded.
    private let artifacts: ArtifactTable

    /// Loads a model with a handler plugin.
    public init(plugin: LoadedPlugin, config: ModelLoadConfig) throws(HandlerError) {
        guard let api = plugin.handlerAPI else {
            throw .unsupported("plugin '\(plugin.name)' is not a handler")
        }
        var state: OpaquePointer?
        let context = plugin.context
        let artifacts = ArtifactTable(config.artifacts)
        let error = withCStrings([config.name, config.version, config.path, config.configJSON, config.parametersJSON]) {
            strings in
            var cConfig = ConfideModelConfig(
                struct_size: UInt32(MemoryLayout<ConfideModelConfig>.size), reserved: 0,
                name: strings[0], version: strings[1], path: strings[2], config_json: strings[3],
                parameters_json: strings[4], artifact_count: UInt32(artifacts.count), reserved2: 0,
                artifacts: UnsafePointer(artifacts.pointers))
            return api.pointee.model_load(context, HostAPI.table, &cConfig, &state)
        }
        if let error { throw ErrorBox.take(error) }
        guard let state else { throw .internal("handler '\(plugin.name)' loaded no model state") }
        var inputs: UnsafePointer<UnsafePointer<ConfideTensorSpec>?>?
        var outputs: UnsafePointer<UnsafePointer<ConfideTensorSpec>?>?
        var inputCount: UInt32 = 0
        var outputCount: UInt32 = 0
        if let error = api.pointee.model_signature(context, state, &inputs, &inputCount, &outputs, &outputCount) {
            api.pointee.model_unload(context, state)
            throw ErrorBox.take(error)
        }
        self.plugin = plugin
        self.api = api
        self.context = context
        self.state = state
        self.artifacts = artifacts
        self.inputs = Self.specs(inputs, Int(inputCount))
        self.outputs = Self.specs(outputs, Int(outputCount))
    }

    deinit { api.pointee.model_unload(context, state) }

    /// Creates a worker's instance. Call it on the worker's thread.
    public func makeInstance(worker: WorkerInfo) throws(HandlerError) -> PluginInstance {
        var info = ConfideWorkerInfo(
            struct_size: UInt32(MemoryLayout<ConfideWorkerInfo>.size), worker_index: UInt32(worker.index),
            numa_node: Int32(worker.numaNode ?? -1), core_count: UInt32(worker.coreCount))
        var instance: OpaquePointer?
        if let error = api.pointee.instance_create(context, state, &info, &instance) { throw ErrorBox.take(error) }
        guard let instance else { throw .internal("handler '\(plugin.name)' created no instance") }
        return PluginInstance(model: self, state: instance)
    }

    private static func specs(_ array: UnsafePointer<UnsafePointer<ConfideTensorSpec>?>?, _ count: Int) -> [TensorSpec]
    {
        guard let array else { return [] }
        return (0..<count).compactMap { index in
            guard let spec = array[index]?.pointee, let dataType = DataType(rawValue: spec.datatype) else { return nil }
            return TensorSpec(
                name: spec.name.map { String(cString: $0) } ?? "",
                dataType: dataType,
                shape: (0..<Int(spec.rank)).compactMap { spec.shape?[$0] })
        }
    }
}

/// One worker's instance of a model. Use it from one thread at a time (the worker's).
public final class PluginInstance {
    /// The model it belongs to.
    public let model: PluginModel
    private let state: OpaquePointer

    init(model: PluginModel, state: OpaquePointer) {
        self.model = model
        self.state = state
    }

    deinit { model.api.pointee.instance_destroy(model.context, state) }

    /// Executes a batch; returns each request's answer (outputs or a body) or error, in order.
    public func execute(_ requests: [HostRequest]) -> [Result<HostResponse, HandlerError>] {
        let arena = Arena()
        defer { arena.release() }
        let collectors = requests.map { ResponseCollector(attributes: Self.attributes(of: $0, in: arena)) }
        let cRequests = arena.allocate(UnsafePointer<ConfideRequest>?.self, count: requests.count)
        for (index, request) in requests.enumerated() {
            let inputs = arena.allocate(UnsafePointer<ConfideTensor>?.self, count: request.inputs.count)
            for (inputIndex, tensor) in request.inputs.enumerated() {
                let shape = arena.copy(tensor.shape)
                let cTensor = arena.allocate(ConfideTensor.self, count: 1)
                cTensor.initialize(
                    to: ConfideTensor(
                        struct_size: UInt32(MemoryLayout<ConfideTensor>.size), datatype: tensor.dataType.rawValue,
                        name: arena.string(tensor.name), shape: shape, rank: UInt32(tensor.shape.count), reserved: 0,
                        data: UnsafeRawPointer(tensor.buffer.baseAddress), byte_size: UInt64(tensor.buffer.count)))
                inputs[inputIndex] = UnsafePointer(cTensor)
            }
            let outputNames = arena.allocate(UnsafePointer<CChar>?.self, count: request.requestedOutputs.count)
            for (nameIndex, name) in request.requestedOutputs.enumerated() {
                outputNames[nameIndex] = arena.string(name)
            }
            let cRequest = arena.allocate(ConfideRequest.self, count: 1)
            cRequest.initialize(
                to: ConfideRequest(
                    struct_size: UInt32(MemoryLayout<ConfideRequest>.size), input_count: UInt32(request.inputs.count),
                    inputs: UnsafePointer(inputs), id: arena.string(request.id),
                    response: OpaquePointer(Unmanaged.passUnretained(collectors[index]).toOpaque()),
                    requested_output_count: UInt32(request.requestedOutputs.count), reserved: 0,
                    requested_outputs: UnsafePointer(outputNames)))
            cRequests[index] = UnsafePointer(cRequest)
        }
        let batchError = withExtendedLifetime(requests) {
            model.api.pointee.instance_execute(model.context, state, cRequests, UInt32(requests.count))
                .map { ErrorBox.take($0) }
        }
        return collectors.map { $0.result(batchError: batchError) }
    }

    /// A request's attributes (`CONFIDE_ATTRIBUTE_*`): text in `arena`, the body in the request's own buffer, both
    /// valid until the handler returns. Empty for a tensor request without metadata.
    private static func attributes(of request: HostRequest, in arena: Arena) -> [String: UnsafeRawBufferPointer] {
        guard request.body != nil || request.contentType != nil || !request.headers.isEmpty else { return [:] }
        var attributes: [String: UnsafeRawBufferPointer] = [:]
        func text(_ name: String, _ value: String) {
            let copy = arena.string(value)
            attributes[name] = UnsafeRawBufferPointer(start: copy, count: value.utf8.count)
        }
        if let body = request.body { attributes[CONFIDE_ATTRIBUTE_BODY] = body.bytes }
        if let contentType = request.contentType { text(CONFIDE_ATTRIBUTE_CONTENT_TYPE, contentType) }
        for (name, value) in request.headers { text(CONFIDE_ATTRIBUTE_HEADER_PREFIX + name.lowercased(), value) }
        return attributes
    }
}

/// Memory for one call's C structures, freed together.
private final class Arena {
    private var allocations: [UnsafeMutableRawPointer] = []

    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        guard let raw = malloc(max(1, count) * MemoryLayout<T>.stride) else {
            fatalError("out of memory allocating \(count) \(T.self)")
        }
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    func string(_ string: String) -> UnsafePointer<CChar> {
        let utf8 = Array(string.utf8CString)
        let copy = allocate(CChar.self, count: utf8.count)
        copy.initialize(from: utf8, count: utf8.count)
        return UnsafePointer(copy)
    }

    func copy(_ values: [Int64]) -> UnsafePointer<Int64> {
        let pointer = allocate(Int64.self, count: values.count)
        pointer.initialize(from: values, count: values.count)
        return UnsafePointer(pointer)
    }

    func release() {
        for pointer in allocations { free(pointer) }
        allocations.removeAll()
    }
}

/// C descriptions of in-memory artifacts, valid as long as this object (which keeps the buffers).
private final class ArtifactTable {
    let count: Int
    let pointers: UnsafeMutablePointer<UnsafePointer<ConfideArtifact>?>
    private let arena = Arena()
    private let buffers: [TensorBuffer]

    init(_ artifacts: [String: TensorBuffer]) {
        let sorted = artifacts.sorted { $0.key < $1.key }
        count = sorted.count
        buffers = sorted.map(\.value)
        pointers = arena.allocate(UnsafePointer<ConfideArtifact>?.self, count: sorted.count)
        for (index, (name, buffer)) in sorted.enumerated() {
            let artifact = arena.allocate(ConfideArtifact.self, count: 1)
            artifact.initialize(
                to: ConfideArtifact(
                    struct_size: UInt32(MemoryLayout<ConfideArtifact>.size), reserved: 0, name: arena.string(name),
                    data: UnsafeRawPointer(buffer.baseAddress), size: UInt64(buffer.count)))
            pointers[index] = UnsafePointer(artifact)
        }
    }

    deinit { arena.release() }
}

/// Runs `body` with C copies of `strings`, valid during the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>]) -> R) -> R {
    let arena = Arena()
    defer { arena.release() }
    return body(strings.map { arena.string($0) })
}
