public import ConfideHTTPClient
import NIOHTTP1
import Synchronization

/// The result of one concurrency level of a closed-loop load test.
public struct LoadResult: Sendable {
    /// The number of connections, each with one request in flight at a time.
    public let concurrency: Int
    /// Requests answered with 200 in the measured window.
    public let succeeded: Int
    /// Requests answered with another status, or that failed, in the measured window.
    public let failed: Int
    /// The measured window's length.
    public let duration: Duration
    /// The latencies of the successful requests, ascending.
    public let latencies: [Duration]

    /// Successful requests per second.
    public var throughput: Double { Double(succeeded) / duration.secondsValue }

    /// The latency at quantile `q` (0...1) of the successful requests.
    public func latency(quantile q: Double) -> Duration {
        guard !latencies.isEmpty else { return .zero }
        let index = min(latencies.count - 1, Int((q * Double(latencies.count)).rounded(.up)) - 1)
        return latencies[max(0, index)]
    }
}

/// A connection a load generator sends requests on: plaintext HTTP (``HTTPConnection``), encrypted end to end
/// (``ObliviousClient``), or another protocol's connection with requests of its own kind.
public protocol LoadConnection<Request>: Sendable {
    /// What the connection sends.
    associatedtype Request: Sendable
    /// Sends a request and says whether it succeeded; throws when it could not be sent or answered.
    func succeeds(_ request: Request) async throws -> Bool
    /// Closes the connection.
    func close() async
}

extension HTTPConnection: LoadConnection {
    /// Sends a request and says whether it was answered with 200.
    public func succeeds(_ request: ClientRequest) async throws -> Bool {
        try await send(request).status == .ok
    }
}

extension ObliviousClient: LoadConnection {
    /// Sends a request encrypted and says whether the inner response is a 200.
    public func succeeds(_ request: ClientRequest) async throws -> Bool {
        try await send(request).status == .ok
    }
}

/// A closed-loop load generator in the style of Triton's perf_analyzer: `concurrency` connections,
/// each sending its next request as soon as the previous one is answered.
public struct LoadGenerator<Request: Sendable>: Sendable {
    /// The requests to send, used in turn.
    public var requests: [Request]
    private let connect: @Sendable () async throws -> any LoadConnection<Request>

    /// Creates a load generator that opens its connections with `connect`.
    public init(requests: [Request], connect: @escaping @Sendable () async throws -> any LoadConnection<Request>) {
        self.requests = requests
        self.connect = connect
    }

    /// Creates a load generator that sends plaintext requests to `host:port`.
    public init(host: String, port: Int, requests: [ClientRequest]) where Request == ClientRequest {
        self.init(requests: requests) { try await HTTPConnection.connect(host: host, port: port) }
    }

    /// Runs one concurrency level for `warmup` (not measured) then `duration`; calls `progress` about
    /// once a second with the requests answered so far in the measured window.
    public func run(
        concurrency: Int, duration: Duration, warmup: Duration,
        progress: @escaping @Sendable (Int, Duration) -> Void = { _, _ in }
    ) async throws -> LoadResult {
        let connections = try await withThrowingTaskGroup(of: (any LoadConnection<Request>).self) { group in
            for _ in 0..<concurrency { group.addTask { try await connect() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + warmup
        let stopAt = measureFrom + duration
        let answered = AnsweredCount()
        let reporter = Task {
            while !Task.isCancelled, clock.now < stopAt {
                try? await Task.sleep(for: .seconds(1))
                if clock.now > measureFrom {
                    progress(answered.value.load(ordering: .relaxed), clock.now - measureFrom)
                }
            }
        }
        let perConnection = try await withThrowingTaskGroup(of: (Int, [Duration]).self) { group in
            for (index, connection) in connections.enumerated() {
                group.addTask {
                    var latencies: [Duration] = []
                    var failed = 0
                    var next = index % requests.count
                    while true {
                        let sent = clock.now
                        if sent >= stopAt { break }
                        let ok = (try? await connection.succeeds(requests[next])) ?? false
                        next = (next + 1) % requests.count
                        guard sent >= measureFrom else { continue }
                        if ok {
                            latencies.append(clock.now - sent)
                            answered.value.add(1, ordering: .relaxed)
                        } else {
                            failed += 1
                        }
                    }
                    await connection.close()
                    return (failed, latencies)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        reporter.cancel()
        let latencies = perConnection.flatMap(\.1).sorted()
        return LoadResult(
            concurrency: concurrency, succeeded: latencies.count, failed: perConnection.map(\.0).reduce(0, +),
            duration: duration, latencies: latencies)
    }
}

/// Requests answered so far, shared by the connections and the progress reporter.
private final class AnsweredCount: Sendable {
    let value = Atomic<Int>(0)
}

extension Duration {
    /// The duration in seconds.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
