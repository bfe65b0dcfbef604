public import ConfideEnvelope
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
public final class ObliviousGatewayAPI: RequestResponder {
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
    private let next: any RequestResponder
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
        keyStore: GatewayKeyStore, next: any RequestResponder, configuration: ObliviousGatewayConfiguration,
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

    public func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        guard request.path == Self.path else {
            return next.handle(request, respond: respond)
        }
        switch request.method {
        case .GET: respond(keys())
        case .POST: decapsulate(request, respond)
        default:
            var response = ProblemDetails.response(
                .methodNotAllowed, type: nil, detail: "\(Self.path) accepts GET and POST only")
            response.headers.add(name: "Allow", value: "GET, POST")
            respond(response)
        }
    }

    private func keys() -> ServerResponse {
        do {
            let body = try gateway.keyStore.encodedConfigurations()
            return ServerResponse(
                status: .ok, headers: ["Content-Type": OHTTPKeyConfiguration.mediaType, "Cache-Control": "no-cache"],
                body: ByteBuffer(bytes: body))
        } catch {
            logger.error("cannot encode the gateway's key configurations", metadata: ["code": "\(error.code)"])
            return ProblemDetails.response(.internalServerError, type: nil, detail: "the keys cannot be encoded")
        }
    }

    private func decapsulate(_ request: ServerRequest, _ respond: @escaping @Sendable (ServerResponse) -> Void) {
        guard Self.mediaType(of: request.headers) == Self.requestMediaType else {
            return respond(ProblemDetails.response(
                .unsupportedMediaType, type: nil, detail: "the gateway accepts \(Self.requestMediaType) only"))
        }
        let decapsulated: OHTTPDecapsulatedRequest
        do {
            decapsulated = try gateway.decapsulateRequest(Array(request.body.readableBytesView))
        } catch {
            logger.debug("encapsulated request refused", metadata: ["code": "\(error.code)"])
            return respond(Self.refusal(error))
        }
        let inner: ServerRequest
        do {
            inner = try innerRequest(decapsulated.binaryRequest)
        } catch {
            logger.debug("inner request refused", metadata: ["status": "\(error.response.status.code)"])
            return seal(error.response, for: decapsulated, respond)
        }
        next.handle(inner) { [self] response in
            seal(response, for: decapsulated, respond)
        }
    }

    /// Decodes and checks the inner request; a refusal carries the inner response to encrypt.
    private func innerRequest(_ bytes: [UInt8]) throws(InnerRefusal) -> ServerRequest {
        let binary: BinaryHTTPRequest
        do {
            binary = try BinaryHTTPRequest(decoding: bytes, limits: limits)
        } catch {
            throw InnerRefusal(ProblemDetails.response(
                error.code == .binaryHTTPLimitExceeded ? .payloadTooLarge : .badRequest, type: nil,
                detail: "the inner request is not acceptable binary HTTP: \(error.reason)"))
        }
        if configuration.requireDate || binary.headerValue("date") != nil {
            do {
                try binary.checkDate(now: clock.date, allowedSkew: configuration.allowedDateSkew)
            } catch {
                var response = ProblemDetails.response(.badRequest, type: Self.dateProblemType, detail: error.reason)
                response.headers.add(name: "Date", value: HTTPDate.format(clock.date))
                throw InnerRefusal(response)
            }
        }
        guard binary.path.hasPrefix("/") else {
            throw InnerRefusal(ProblemDetails.response(
                .badRequest, type: nil, detail: "the inner request's path must start with '/'"))
        }
        var headers = HTTPHeaders(binary.headerFields.map { ($0.name, $0.value) })
        if !binary.authority.isEmpty, !headers.contains(name: "Host") {
            headers.add(name: "Host", value: binary.authority)
        }
        return ServerRequest(
            method: HTTPMethod(rawValue: binary.method), uri: binary.path, headers: headers,
            body: ByteBuffer(bytes: binary.content))
    }

    /// Encrypts `response` to the client of `decapsulated` and answers it.
    private func seal(
        _ response: ServerResponse, for decapsulated: OHTTPDecapsulatedRequest,
        _ respond: @escaping @Sendable (ServerResponse) -> Void
    ) {
        let binary = BinaryHTTPResponse(
            status: Int(response.status.code),
            headerFields: response.headers.map { BinaryHTTPField(name: $0.name, value: $0.value) },
            content: Array(response.body.readableBytesView))
        do {
            let sealed = try decapsulated.encapsulateResponse(try binary.encoded())
            respond(ServerResponse(
                status: .ok, headers: ["Content-Type": Self.responseMediaType, "Cache-Control": "no-store"],
                body: ByteBuffer(bytes: sealed)))
        } catch {
            logger.error("cannot encapsulate an inner response", metadata: ["code": "\(error.code)"])
            respond(ProblemDetails.response(
                .internalServerError, type: nil, detail: "the response could not be encapsulated"))
        }
    }

    /// The outer answer to a request that could not be decapsulated. The details never describe the plaintext.
    static func refusal(_ error: EnvelopeError) -> ServerResponse {
        if error.code.isKeyConfigurationProblem {
            return ProblemDetails.response(
                .badRequest, type: keyProblemType,
                detail: "the key configuration is not accepted; fetch the current keys from \(path)")
        }
        switch error.code {
        case .decryptionFailed:
            return ProblemDetails.response(.badRequest, type: nil, detail: "the request could not be decrypted")
        case .replayedRequest:
            return ProblemDetails.response(
                .badRequest, type: nil, detail: "this encapsulated request was already received")
        case .replayGuardFull:
            var response = ProblemDetails.response(
                .serviceUnavailable, type: nil, detail: "the gateway is busy; retry shortly")
            response.headers.add(name: "Retry-After", value: "1")
            return response
        default:
            return ProblemDetails.response(.badRequest, type: nil, detail: "the encapsulated request is malformed")
        }
    }

    /// The media type of a `Content-Type` field, lowercased and without parameters.
    private static func mediaType(of headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "Content-Type") else { return nil }
        let type = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(type.filter { $0 != " " && $0 != "\t" }).lowercased()
    }
}

/// An inner request the gateway refuses, with the inner response that says why.
private struct InnerRefusal: Error {
    let response: ServerResponse

    init(_ response: ServerResponse) {
        self.response = response
    }
}
