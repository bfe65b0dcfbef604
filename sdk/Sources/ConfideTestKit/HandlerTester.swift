public import ConfideHost
public import ConfideSDK
public import ConfideTensors

/// Runs a handler through the real plugin ABI, without a server: load a model, create a worker's
/// instance, execute batches.
///
/// ```swift
/// let echo = try HandlerTester(Echo.self)
/// let outputs = try echo.infer([HostTensor(name: "text", strings: ["hi"])!])
/// #expect(outputs["text"]?.strings() == ["hi"])
/// let answer = try echo.post(body: Array(#"{"text": "hi"}"#.utf8), contentType: "application/json")
/// ```
public final class HandlerTester {
    /// The loaded model.
    public let model: PluginModel
    private let instance: PluginInstance
    private let worker: WorkerThread

    /// Loads a handler type linked into this process, through its exported descriptor.
    public convenience init<H: Handler>(
        _ handler: H.Type, model config: ModelLoadConfig = ModelLoadConfig(name: "test"),
        worker: WorkerInfo = WorkerInfo()
    ) throws {
        let (major, minor) = PluginLoader.hostVersion
        let plugin = try PluginLoader.accept(descriptor: H.export(major, minor), origin: "in-process \(H.name)")
        try self.init(plugin: plugin, model: config, worker: worker)
    }

    /// Loads a built plugin library with `dlopen`, as the server does.
    public convenience init(
        library path: String, model config: ModelLoadConfig = ModelLoadConfig(name: "test"),
        worker: WorkerInfo = WorkerInfo()
    ) throws {
        try self.init(plugin: PluginLoader.open(path: path), model: config, worker: worker)
    }

    /// Loads a model with an already negotiated plugin. The instance lives on a ``WorkerThread`` with an intra-op
    /// team of `worker.coreCount` threads, as on a server worker, and every batch runs there.
    public init(plugin: LoadedPlugin, model config: ModelLoadConfig, worker: WorkerInfo = WorkerInfo()) throws {
        let model = try PluginModel(plugin: plugin, config: config)
        let thread = try WorkerThread(name: "handler-tester", threads: worker.coreCount)
        self.model = model
        self.worker = thread
        do {
            self.instance = try thread.run { () throws(HandlerError) -> PluginInstance in
                try model.makeInstance(worker: worker)
            }
        } catch {
            thread.stop()
            throw error
        }
    }

    deinit { worker.stop() }

    /// Executes one request and returns its outputs by name; throws the request's error.
    public func infer(_ inputs: [HostTensor], requestedOutputs: [String] = []) throws(HandlerError) -> [String:
        HostTensor]
    {
        let response = try execute(HostRequest(inputs: inputs, requestedOutputs: requestedOutputs))
        return Dictionary(response.outputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Sends a request that carries no tensors but a raw body, as TorchServe's `POST /predictions/{model}` does, and
    /// returns the handler's answer (a body, or outputs); throws the request's error. `headers` reach the handler as
    /// request attributes, credentials left out, as on a server.
    public func post(
        body: [UInt8], contentType: String? = nil, headers: [(name: String, value: String)] = []
    ) throws(HandlerError) -> HostResponse {
        guard let buffer = TensorBuffer(copying: body) else {
            throw .unavailable("out of memory for a body of \(body.count) bytes")
        }
        return try execute(HostRequest(body: buffer, contentType: contentType, headers: headers))
    }

    /// Executes one request and returns its answer; throws the request's error.
    public func execute(_ request: HostRequest) throws(HandlerError) -> HostResponse {
        guard let result = execute([request]).first else { throw .internal("the batch returned no result") }
        return try result.get()
    }

    /// Executes a batch; returns each request's answer or error, in order.
    public func execute(_ requests: [HostRequest]) -> [Result<HostResponse, HandlerError>] {
        worker.run { instance.execute(requests) }
    }
}
