import NIOCore
import NIOHTTP1
public import Prometheus

/// Serves `GET /metrics` in the Prometheus text format.
public struct MetricsAPI: RequestResponder {
    private let registry: PrometheusCollectorRegistry

    /// Serves the metrics of `registry`.
    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        guard request.path == "/metrics" else {
            return respond(.json(.notFound, JSONErrorBody.make("no route for \(request.method) \(request.path)")))
        }
        guard request.method == .GET else {
            return respond(.json(.methodNotAllowed, JSONErrorBody.make("/metrics accepts GET only")))
        }
        respond(ServerResponse(
            status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
            body: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    /// A metrics factory for `registry` with buckets suited to inference: durations from 50 µs to 10 s
    /// and batch sizes from 1 to 256.
    public static func factory(for registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        factory.valueHistogramBuckets["confide_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        return factory
    }
}
