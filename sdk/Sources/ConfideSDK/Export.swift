import CConfide
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension Handler {
    /// Returns this handler's plugin descriptor (a `const ConfidePluginDescriptor *`). Call it from the
    /// plugin's `confide_plugin_entry`, passing the host's ABI version through; the host checks the
    /// versions and, since the plugin is Swift, the compiler.
    public static func export(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafeRawPointer? {
        UnsafeRawPointer(Exports.descriptor(for: Self.self))
    }
}

/// The handler types this image exports: one descriptor each, all sharing one function table. The
/// descriptor's context names the handler type, so the table's functions need no per-type copies.
enum Exports {
    private struct State: @unchecked Sendable {
        var descriptors: [ObjectIdentifier: UnsafeMutablePointer<ConfidePluginDescriptor>] = [:]
    }

    private static let state = Mutex(State())

    /// The function table of every handler this image exports; valid for the life of the process.
    nonisolated(unsafe) private static let table: UnsafePointer<ConfideHandlerApi> = {
        let api = UnsafeMutablePointer<ConfideHandlerApi>.allocate(capacity: 1)
        api.initialize(
            to: ConfideHandlerApi(
                struct_size: UInt32(MemoryLayout<ConfideHandlerApi>.size),
                reserved: 0,
                model_load: modelLoad,
                model_signature: modelSignature,
                model_unload: modelUnload,
                instance_create: instanceCreate,
                instance_execute: instanceExecute,
                instance_destroy: instanceDestroy))
        return UnsafePointer(api)
    }()

    /// The descriptor of `type`, made on its first export and kept for the life of the process.
    static func descriptor(for type: any Handler.Type) -> UnsafeMutablePointer<ConfidePluginDescriptor> {
        state.withLock { state -> UnsafeMutablePointer<ConfidePluginDescriptor> in
            if let existing = state.descriptors[ObjectIdentifier(type)] { return existing }
            let context = Unmanaged.passRetained(ExportedHandler(type)).toOpaque()
            let descriptor = UnsafeMutablePointer<ConfidePluginDescriptor>.allocate(capacity: 1)
            descriptor.initialize(
                to: ConfidePluginDescriptor(
                    struct_size: UInt32(MemoryLayout<ConfidePluginDescriptor>.size),
                    abi_major: UInt32(CONFIDE_ABI_MAJOR),
                    abi_minor: UInt32(CONFIDE_ABI_MINOR),
                    kind: CONFIDE_PLUGIN_HANDLER.rawValue,
                    name: UnsafePointer(strdup(type.name)),
                    version: UnsafePointer(strdup(type.version)),
                    description: UnsafePointer(strdup(type.description)),
                    min_host_abi_minor: 0,
                    language: CONFIDE_LANGUAGE_SWIFT.rawValue,
                    compiler: confide_compiler_id(),
                    api: UnsafeRawPointer(table),
                    context: context))
            state.descriptors[ObjectIdentifier(type)] = descriptor
            return descriptor
        }
    }
}

// MARK: - Boxes behind the context and the opaque handles

/// What a descriptor's context points to: the handler type the table's functions serve.
private final class ExportedHandler {
    let type: any Handler.Type

    init(_ type: any Handler.Type) { self.type = type }

    static func from(_ context: UnsafeMutableRawPointer?) -> (any Handler.Type)? {
        context.map { Unmanaged<ExportedHandler>.fromOpaque($0).takeUnretainedValue().type }
    }
}

private final class ModelBox {
    let handler: any Handler
    let host: UnsafePointer<ConfideHostApi>
    let inputs: SpecArray
    let outputs: SpecArray

    init(handler: any Handler, host: UnsafePointer<ConfideHostApi>) {
        self.handler = handler
        self.host = host
        self.inputs = SpecArray(handler.inputs)
        self.outputs = SpecArray(handler.outputs)
    }
}

private final class InstanceBox {
    var instance: any HandlerInstance
    let host: UnsafePointer<ConfideHostApi>

    init(instance: any HandlerInstance, host: UnsafePointer<ConfideHostApi>) {
        self.instance = instance
        self.host = host
    }
}

/// C copies of tensor specs, owned by a model until it is unloaded.
private final class SpecArray {
    let pointers: UnsafeMutablePointer<UnsafePointer<ConfideTensorSpec>?>
    let count: Int

    init(_ specs: [TensorSpec]) {
        count = specs.count
        pointers = .allocate(capacity: max(1, specs.count))
        for (index, spec) in specs.enumerated() {
            let shape = UnsafeMutablePointer<Int64>.allocate(capacity: max(1, spec.shape.count))
            shape.initialize(from: spec.shape, count: spec.shape.count)
            let cSpec = UnsafeMutablePointer<ConfideTensorSpec>.allocate(capacity: 1)
            cSpec.initialize(
                to: ConfideTensorSpec(
                    struct_size: UInt32(MemoryLayout<ConfideTensorSpec>.size),
                    datatype: spec.dataType.rawValue,
                    name: UnsafePointer(strdup(spec.name)),
                    shape: UnsafePointer(shape),
                    rank: UInt32(spec.shape.count),
                    reserved: 0))
            pointers[index] = UnsafePointer(cSpec)
        }
    }

    deinit {
        for index in 0..<count {
            guard let spec = pointers[index] else { continue }
            free(UnsafeMutablePointer(mutating: spec.pointee.name))
            UnsafeMutablePointer(mutating: spec.pointee.shape)?.deallocate()
            UnsafeMutablePointer(mutating: spec).deallocate()
        }
        pointers.deallocate()
    }
}

// MARK: - The C entry points

private let modelLoad:
    @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<ConfideHostApi>?, UnsafePointer<ConfideModelConfig>?,
        UnsafeMutablePointer<OpaquePointer?>?
    ) -> OpaquePointer? = { context, host, config, out in
        guard let host else { return nil }
        guard let config, let out, let type = ExportedHandler.from(context) else {
            return HostErrors.make(.internal("model_load called with invalid arguments"), host: host)
        }
        do {
            let handler = try type.init(model: ModelContext(config, host: host))
            out.pointee = OpaquePointer(Unmanaged.passRetained(ModelBox(handler: handler, host: host)).toOpaque())
            return nil
        } catch {
            return HostErrors.make(HandlerError(wrapping: error), host: host)
        }
    }

private let modelSignature:
    @convention(c) (
        UnsafeMutableRawPointer?, OpaquePointer?,
        UnsafeMutablePointer<UnsafePointer<UnsafePointer<ConfideTensorSpec>?>?>?, UnsafeMutablePointer<UInt32>?,
        UnsafeMutablePointer<UnsafePointer<UnsafePointer<ConfideTensorSpec>?>?>?, UnsafeMutablePointer<UInt32>?
    ) -> OpaquePointer? = { _, model, inputs, inputCount, outputs, outputCount in
        guard let model else { return nil }
        let box = Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue()
        inputs?.pointee = UnsafePointer(box.inputs.pointers)
        inputCount?.pointee = UInt32(box.inputs.count)
        outputs?.pointee = UnsafePointer(box.outputs.pointers)
        outputCount?.pointee = UInt32(box.outputs.count)
        return nil
    }

private let modelUnload: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Void = { _, model in
    guard let model else { return }
    Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(model)).release()
}

private let instanceCreate:
    @convention(c) (
        UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<ConfideWorkerInfo>?,
        UnsafeMutablePointer<OpaquePointer?>?
    ) -> OpaquePointer? = { _, model, worker, out in
        guard let model else { return nil }
        let box = Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(model)).takeUnretainedValue()
        guard let worker, let out else {
            return HostErrors.make(.internal("instance_create called with invalid arguments"), host: box.host)
        }
        do {
            let instance = try box.handler.makeInstance(worker: WorkerContext(worker.pointee, host: box.host))
            let instanceBox = InstanceBox(instance: instance, host: box.host)
            out.pointee = OpaquePointer(Unmanaged.passRetained(instanceBox).toOpaque())
            return nil
        } catch {
            return HostErrors.make(HandlerError(wrapping: error), host: box.host)
        }
    }

private let instanceExecute:
    @convention(c) (
        UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<UnsafePointer<ConfideRequest>?>?, UInt32
    ) -> OpaquePointer? = { _, instance, requests, count in
        guard let instance else { return nil }
        let box = Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).takeUnretainedValue()
        let batch = Batch(UnsafeBufferPointer(start: requests, count: Int(count)), host: box.host)
        do {
            try box.instance.execute(batch)
            return nil
        } catch {
            return HostErrors.make(HandlerError(wrapping: error), host: box.host)
        }
    }

private let instanceDestroy: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Void = { _, instance in
    guard let instance else { return }
    Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).release()
}
