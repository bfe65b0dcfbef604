import CoreMetrics
import NIOHTTP1
import Synchronization

/// Counts the responses of a responder by status code, as `confide_http_responses_total{api, code}`.
///
/// It wraps the outermost responder of a port, so it counts what the network sees: an encrypted request's
/// response is the gateway's (200, or its own refusal), not the status of the request inside (a 401 or 404
/// there is not added to what the host already observes). Responses the HTTP layer writes itself (a
/// malformed request, a body over the size limit) are not counted.
struct ResponseCounter: RequestResponder {
    private let next: any RequestResponder
    private let counters: Counters

    /// Counts the responses of `next` under `api` (e.g. `inference`, `management`).
    init(api: String, counting next: any RequestResponder, factory: any MetricsFactory) {
        self.next = next
        self.counters = Counters(api: api, factory: factory)
    }

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        next.handle(request) { [counters] response in
            counters.counter(for: response.status.code).increment()
            respond(response)
        }
    }

    /// One counter per status code, made on first use.
    private final class Counters: Sendable {
        let api: String
        let factory: any MetricsFactory
        let byCode = Mutex<[UInt: Counter]>([:])

        init(api: String, factory: any MetricsFactory) {
            self.api = api
            self.factory = factory
        }

        func counter(for code: UInt) -> Counter {
            byCode.withLock { counters in
                if let counter = counters[code] { return counter }
                let counter = Counter(
                    label: "confide_http_responses_total", dimensions: [("api", api), ("code", String(code))],
                    factory: factory)
                counters[code] = counter
                return counter
            }
        }
    }
}
