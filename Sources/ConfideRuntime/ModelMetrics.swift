public import CoreMetrics

/// One model version's metrics, in Prometheus naming: request outcomes, queue, handler and end-to-end
/// times, batch sizes, queue depth and busy workers.
public final class ModelMetrics: Sendable {
    /// Requests answered with outputs.
    public let succeeded: Counter
    /// Requests the handler failed.
    public let failed: Counter
    /// Requests refused because the queue was full.
    public let queueFull: Counter
    /// Requests whose deadline passed while they waited.
    public let deadlineExceeded: Counter
    /// Requests refused because the model was shutting down.
    public let shuttingDown: Counter
    /// Time from queueing to the start of the batch that ran the request.
    public let queueTime: Timer
    /// Time the handler spent on each batch.
    public let handlerTime: Timer
    /// Time from receiving a request to having its response (recorded by the server).
    public let latency: Timer
    /// The size of each executed batch.
    public let batchSize: Recorder
    /// Requests waiting.
    public let queueDepth: Meter
    /// Workers executing a batch.
    public let busyWorkers: Meter

    /// The label of the batch-size histogram, for configuring its buckets.
    public static let batchSizeLabel = "confide_batch_size"

    /// Creates the metrics of one model version with a metrics factory (a no-op one by default).
    public init(model: String, version: String, factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        let dimensions = [("model", model), ("version", version)]
        func requests(_ outcome: String) -> Counter {
            Counter(label: "confide_requests_total", dimensions: dimensions + [("outcome", outcome)], factory: factory)
        }
        succeeded = requests("success")
        failed = requests("handler_error")
        queueFull = requests("queue_full")
        deadlineExceeded = requests("deadline_exceeded")
        shuttingDown = requests("shutting_down")
        queueTime = Timer(label: "confide_queue_duration_seconds", dimensions: dimensions, factory: factory)
        handlerTime = Timer(label: "confide_handler_duration_seconds", dimensions: dimensions, factory: factory)
        latency = Timer(label: "confide_request_duration_seconds", dimensions: dimensions, factory: factory)
        batchSize = Recorder(label: Self.batchSizeLabel, dimensions: dimensions, factory: factory)
        queueDepth = Meter(label: "confide_queue_depth", dimensions: dimensions, factory: factory)
        busyWorkers = Meter(label: "confide_busy_workers", dimensions: dimensions, factory: factory)
    }

    /// Records a request's end-to-end time, from `start` to now.
    public func recordLatency(since start: ContinuousClock.Instant) {
        latency.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }
}
