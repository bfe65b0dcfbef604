import ConfideRuntime

/// How long requests may wait for a worker: the server's default, a model's own default
/// (`timeout_ms` in `model.json`), or what the request asks for (KServe's `timeout` parameter, in
/// microseconds as Triton reads it), never more than the maximum.
public struct DeadlinePolicy: Sendable {
    /// The deadline when neither the model nor the request sets one.
    public var defaultTimeout: Duration
    /// The longest deadline a request or model may ask for.
    public var maximumTimeout: Duration

    /// Creates a policy.
    public init(default defaultTimeout: Duration = .seconds(60), maximum: Duration = .seconds(600)) {
        self.defaultTimeout = defaultTimeout
        self.maximumTimeout = maximum
    }

    /// The timeout for a request to `model` that asked for `requested`.
    func timeout(model: ModelConfig, requested: Duration?) -> Duration {
        let chosen = requested ?? model.timeoutMilliseconds.map { .milliseconds($0) } ?? defaultTimeout
        return min(chosen, maximumTimeout)
    }
}
