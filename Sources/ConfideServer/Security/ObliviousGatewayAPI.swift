public import ConfideEnvelope
import ConfideSDK
public import Logging
import NIOCore
import NIOHTTP1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The Oblivious HTTP gateway (RFC 9458, RFC 9540) in front of another responder.
///
/// `GET /.well-known/ohttp-gateway` answers the key configurations (`application/ohttp-keys`). `POST` of a
/// `message/ohttp-req` is decrypted, its Binary HTTP request is handed to the wrapped responder exactly like a
/// plaintext request, and the response comes back encrypted as `message/ohttp-res`. Every other request goes to the
/// wrapped responder unchanged.
///
/// Refusals of the outer message are `application/problem+json` and never describe the plaintext: a malformed
/// message, a failed decryption or a replayed encapsulated key is 400; a key identifier or suite the gateway does not
/// accept is 400 with the problem type ``keyProblemType`` so that clients refetch the keys. Errors of the inner
/// request, including a `Date` outside the allowed skew, are answered encrypted as inner responses. No log line holds
/// plaintext.
public final class ObliviousGatewayAPI: RouteResponder {
    /// The gateway's path (RFC 9540).
    public static let path = "/.well-known/ohttp-gateway"
    /// The media type of an encapsulated request.
    public static let requestMediaType = "message/ohttp-req"
    /// The media type of an encapsulated response.
    public static let responseMediaType = "message/ohttp-res"
    /// The problem type for a key configuration the gateway does not accept (RFC 9458 §5.3).
    public static let keyProblemType = "https://iana.org/assignments/http-problem-types#ohttp-key"
    /// The problem type for an inner request whose `Date` is outside the allowed skew (RFC 9458 §6.7).
    public static let dateProblemType = "https://iana.org/assignments/http-problem-types#date"

    private let gateway: OHTTPGateway
    private let next: any RouteResponder
    private let router = Router(surface: .inference)
    private let configuration: ObliviousGatewayConfiguration
    private let limits: BinaryHTTPLimits
    private let clock: GatewayClock
    private let logger: Logger

    /// Serves the keys of `keyStore` and decrypts requests for `next`.
    ///
    /// - Parameters:
    ///   - keyStore: the gateway's keys.
    ///   - next: the responder that answers both plaintext and decrypted requests.
    ///   - configuration: the skew, replay and `Date` settings.
    ///   - maxContentSize: the largest inner request content accepted.
    ///   - logger: where refusals are logged, by kind only.
    public init(
        keyStore: GatewayKeyStore, next: any RouteResponder, configuration: ObliviousGatewayConfiguration,
        maxContentSize: Int, logger: Logger
    ) {
        let clock = configuration.clock ?? GatewayClock()
        let replayGuard = ReplayGuard(
            window: configuration.replayWindow, capacity: configuration.replayCapacity, clock: clock)
        self.clock = clock
        self.gateway = OHTTPGateway(keyStore: keyStore, replayGuard: replayGuard)
        self.next = next
        self.configuration = configuration
        self.limits = BinaryHTTPLimits(maximumContentSize: maxContentSize)
        self.logger = logger
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        switch request.route.action {
        case .gatewayKeys: reply(keys())
        case .gatewayRequest: decapsulate(request.request, reply)
        default: next.handle(request, reply: reply)
        }
    }

    private func keys() -> Result<ServerResponse, APIError> {
        do {
            let body = try gateway.keyStore.encodedConfigurations()
            return .success(
                ServerResponse(
                    status: .ok,
                    headers: ["Content-Type": OHTTPKeyConfiguration.mediaType, "Cache-Control": "no-cache"],
                    body: ByteBuffer(bytes: body)))
        } catch {
            logger.error("cannot encode the gateway's key configurations", metadata: ["code": "\(error.code)"])
            return .failure(APIError(.internalServerError, "the keys cannot be encoded"))
        }
    }

    private func decapsulate(_ request: ServerRequest, _ reply: @escaping RouteReply) {
        guard ContentType(request.headers.first(name: "Content-Type") ?? "")?.mediaType == Self.requestMediaType else {
            return reply(.failure(APIError(.unsupportedMediaType, "the gateway accepts \(Self.requestMediaType) only")))
        }
        // The plaintext and the inner request's body are two more copies of the body while the request lasts.
        let copies = request.body.readableBytes * 2
        guard request.budget.tryReserve(copies) else {
            return reply(.failure(.overloaded("the server's memory budget is spent; retry shortly")))
        }
        let budget = request.budget
        let reply = budget.releasing(copies, after: reply)
        let decapsulated: OHTTPDecapsulatedRequest
        do {
            decapsulated = try gateway.decapsulateRequest(Array(request.body.readableBytesView))
        } catch {
            logger.debug("encapsulated request refused", metadata: ["code": "\(error.code)"])
            return reply(.failure(Self.refusal(error)))
        }
        let inner: RoutedRequest
        do {
            inner = try innerRequest(decapsulated.binaryRequest, budget: budget)
        } catch {
            logger.debug("inner request refused", metadata: ["status": "\(error.error.status.code)"])
            return seal(error.family.errorFormat.response(error.error), for: decapsulated, reply)
        }
        let family = inner.route.family
        next.handle(inner) { [self] result in
            seal(result.response(in: family), for: decapsulated, reply)
        }
    }

    /// Decodes, checks and routes the inner request, with the same router as plaintext requests and the outer
    /// request's memory budget; a refusal carries the error to encrypt and the protocol whose format it is
    /// written in.
    private func innerRequest(_ bytes: [UInt8], budget: MemoryBudget) throws(RoutingError) -> RoutedRequest {
        let binary: BinaryHTTPRequest
        do {
            binary = try BinaryHTTPRequest(decoding: bytes, limits: limits)
        } catch {
            throw RoutingError(
                family: .gateway,
                error: APIError(
                    error.code == .binaryHTTPLimitExceeded ? .payloadTooLarge : .badRequest,
                    "the inner request is not acceptable binary HTTP: \(error.reason)"))
        }
        if configuration.requireDate || binary.headerValue("date") != nil {
            do {
                try binary.checkDate(now: clock.date, allowedSkew: configuration.allowedDateSkew)
            } catch {
                throw RoutingError(
                    family: .gateway,
                    error: APIError(
                        .badRequest, error.reason, problemType: Self.dateProblemType,
                        headers: [("Date", HTTPDate.format(clock.date))]))
            }
        }
        var headers = HTTPHeaders(binary.headerFields.map { ($0.name, $0.value) })
        if !binary.authority.isEmpty, !headers.contains(name: "Host") {
            headers.add(name: "Host", value: binary.authority)
        }
        var request = ServerRequest(
            method: HTTPMethod(rawValue: binary.method), uri: binary.path, headers: headers,
            body: ByteBuffer(bytes: binary.content))
        request.budget = budget
        let route = try router.route(method: request.method, path: request.path, query: request.query)
        guard route.family != .gateway else {
            throw RoutingError(family: .gateway, error: .notFound("the gateway is not reachable through itself"))
        }
        return RoutedRequest(route: route, request: request)
    }

    /// Encrypts `response` to the client of `decapsulated` and answers it.
    private func seal(
        _ response: ServerResponse, for decapsulated: OHTTPDecapsulatedRequest, _ reply: @escaping RouteReply
    ) {
        let binary = BinaryHTTPResponse(
            status: Int(response.status.code),
            headerFields: response.headers.map { BinaryHTTPField(name: $0.name, value: $0.value) },
            content: Array(response.body.readableBytesView))
        do {
            let sealed = try decapsulated.encapsulateResponse(try binary.encoded())
            reply(
                .success(
                    ServerResponse(
                        status: .ok, headers: ["Content-Type": Self.responseMediaType, "Cache-Control": "no-store"],
                        body: ByteBuffer(bytes: sealed))))
        } catch {
            logger.error("cannot encapsulate an inner response", metadata: ["code": "\(error.code)"])
            reply(.failure(APIError(.internalServerError, "the response could not be encapsulated")))
        }
    }

    /// The outer answer to a request that could not be decapsulated. The details never describe the plaintext.
    static func refusal(_ error: EnvelopeError) -> APIError {
        if error.code.isKeyConfigurationProblem {
            return APIError(
                .badRequest, "the key configuration is not accepted; fetch the current keys from \(path)",
                problemType: keyProblemType)
        }
        switch error.code {
        case .decryptionFailed: return .badRequest("the request could not be decrypted")
        case .replayedRequest: return .badRequest("this encapsulated request was already received")
        case .replayGuardFull: return .overloaded("the gateway is busy; retry shortly")
        default: return .badRequest("the encapsulated request is malformed")
        }
    }
}
