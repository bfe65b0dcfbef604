import NIOCore
import NIOHTTP1
public import Prometheus

/// Serves `GET /metrics` in the Prometheus text format.
public struct MetricsAPI: RouteResponder {
    private let registry: PrometheusCollectorRegistry

    /// Serves the metrics of `registry`.
    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        guard request.route.action == .metrics else {
            return reply(.failure(.notFound("no route for \(request.route.action) on the metrics listener")))
        }
        reply(
            .success(
                ServerResponse(
                    status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                    body: ByteBuffer(bytes: registry.emitToBuffer()))))
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
