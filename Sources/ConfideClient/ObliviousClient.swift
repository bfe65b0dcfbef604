public import ConfideAttestation
public import ConfideEnvelope
public import ConfideHTTPClient
import ConfideJSON
public import ConfideMeasurement
import ConfideSDK
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A client that sends every request end to end encrypted (Oblivious HTTP) to a key that the server's attestation
/// evidence vouches for.
///
/// Before the first request, the client fetches `GET /attestation` with a fresh random nonce and verifies the
/// evidence with ``AttestationVerifier`` against its policy and against the binding of the key configurations it
/// received and its nonce; only then does it encrypt to those keys. When the gateway answers that the key is no
/// longer accepted (the `ohttp-key` problem type, after a rotation), the client attests again and retries once.
public final class ObliviousClient: Sendable {
    /// The connection it uses.
    public let connection: HTTPConnection
    /// What evidence the client accepts. Its `expectedReportData` is not used: each attestation expects the binding
    /// of the keys received and the client's own nonce.
    public let policy: AttestationPolicy
    private let authority: String
    private let trusted = Mutex<AttestedKeys?>(nil)

    /// Uses an open connection to the server at `authority` (`host:port`, sent as the inner request's authority).
    public init(connection: HTTPConnection, authority: String, policy: AttestationPolicy) {
        self.connection = connection
        self.authority = authority
        self.policy = policy
    }

    /// Connects to a server; nothing is fetched until ``attest()`` or the first request.
    public static func connect(host: String, port: Int, policy: AttestationPolicy) async throws -> ObliviousClient {
        ObliviousClient(
            connection: try await HTTPConnection.connect(host: host, port: port), authority: "\(host):\(port)",
            policy: policy)
    }

    /// The keys verified last, if any.
    public var attestedKeys: AttestedKeys? { trusted.withLock { $0 } }

    /// Fetches the server's evidence for a fresh nonce, verifies it, and from then on encrypts to the key
    /// configuration it binds.
    ///
    /// Throws ``ObliviousClientError`` with ``ObliviousClientError/Code/attestationRefused`` when the evidence does
    /// not satisfy the policy or does not bind the key configurations and the nonce.
    @discardableResult
    public func attest() async throws -> AttestedKeys {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let response = try await connection.send(
            ClientRequest(
                method: .GET, uri: "/attestation?nonce=\(Hex.encode(nonce))", headers: ["Accept": "application/json"]))
        guard response.status == .ok else {
            throw ObliviousClientError(
                .attestationUnavailable, "GET /attestation answered \(response.status.code): \(response.text)")
        }
        let keys = try await Self.verify(
            AttestationDocument(json: Array(response.body.readableBytesView)), nonce: nonce, policy: policy)
        trusted.withLock { $0 = keys }
        return keys
    }

    /// Verifies a server's attestation document for the client's `nonce` and returns the keys it vouches for.
    ///
    /// The report data must equal ``reportData(keyConfigurations:nonce:measurementLog:)`` of the document's key
    /// configurations, `nonce` and the digest of the document's measurement log (`policy.expectedReportData` is
    /// replaced by that binding); the log must then replay to the register the evidence reports and satisfy
    /// `policy.measurements`, when set.
    public static func verify(
        _ document: AttestationDocument, nonce: [UInt8], policy: AttestationPolicy
    ) async throws(ObliviousClientError) -> AttestedKeys {
        var policy = policy
        do {
            policy.expectedReportData = try reportData(
                keyConfigurations: document.keyConfigurations, nonce: nonce,
                measurementLog: document.measurements.digest)
        } catch {
            throw ObliviousClientError(.invalidArgument, error.message)
        }
        let verified: VerifiedEvidence
        let measured: MeasuredState
        do {
            verified = try await AttestationVerifier.verify(
                evidence: document.evidence, type: document.evidenceType, endorsements: document.endorsements,
                policy: policy)
            measured = try AttestationVerifier.verify(
                measurementLog: document.measurements, register: document.register, evidence: verified,
                policy: policy)
        } catch {
            throw ObliviousClientError(
                .attestationRefused,
                "the server's \(document.evidenceType.rawValue) evidence is refused: "
                    + "\(error.message) (\(error.code))")
        }
        let configurations: [OHTTPKeyConfiguration]
        do {
            configurations = try OHTTPKeyConfiguration.decodeList(document.keyConfigurations)
        } catch {
            throw ObliviousClientError(.malformedAttestation, "the attested key configurations: \(error.reason)")
        }
        let usable = configurations.first { $0.symmetricSuites.contains(where: \.isImplemented) }
        guard let configuration = usable else {
            throw ObliviousClientError(.malformedAttestation, "the attested keys offer no suite this client implements")
        }
        return AttestedKeys(
            document: document, evidence: verified, configurations: configurations, configuration: configuration,
            nonce: nonce, measured: measured)
    }

    /// Sends `request` encrypted through the server's gateway and returns the decrypted inner response.
    ///
    /// Attests first when no key is trusted yet. A `Date` header field is added to the inner request.
    public func send(_ request: ClientRequest) async throws -> ClientResponse {
        let keys: AttestedKeys
        if let trusted = attestedKeys {
            keys = trusted
        } else {
            keys = try await attest()
        }
        do {
            return try await exchange(request, keys.configuration)
        } catch let error as ObliviousClientError where error.code == .keyConfigurationRefused {
            return try await exchange(request, try await attest().configuration)
        }
    }

    /// Sends a KServe v2 inference request encrypted and returns the outputs, like
    /// ``KServeClient/infer(model:version:inputs:binary:)`` does in plaintext.
    public func infer(model: String, version: String? = nil, inputs: [InferTensor], binary: Bool = false)
        async throws -> [InferTensor]
    {
        let request = try KServeClient.request(model: model, version: version, inputs: inputs, binary: binary)
        let response = try await send(request)
        guard response.status == .ok else {
            throw KServeError(status: Int(response.status.code), message: KServeClient.errorMessage(response))
        }
        return try KServeClient.outputs(of: response)
    }

    /// Closes the connection.
    public func close() async {
        await connection.close()
    }

    private func exchange(_ request: ClientRequest, _ configuration: OHTTPKeyConfiguration) async throws
        -> ClientResponse
    {
        var fields = request.headers
            .filter { !["host", "content-length", "date"].contains($0.name.lowercased()) }
            .map { BinaryHTTPField(name: $0.name, value: $0.value) }
        fields.append(BinaryHTTPField(name: "date", value: HTTPDate.format(Date())))
        let inner = BinaryHTTPRequest(
            method: request.method.rawValue, scheme: "https", authority: authority, path: request.uri,
            headerFields: fields, content: Array(request.body.readableBytesView))
        let sealed = try OHTTPClientRequest(sealing: try inner.encoded(), for: configuration)
        let response = try await connection.send(
            ClientRequest(
                method: .POST, uri: "/.well-known/ohttp-gateway",
                headers: ["Content-Type": "message/ohttp-req", "Accept": "message/ohttp-res"],
                body: ByteBuffer(bytes: sealed.encapsulatedRequest)))
        let type = ContentType(response.headers.first(name: "Content-Type") ?? "")
        guard response.status == .ok, type?.mediaType == "message/ohttp-res" else {
            throw Self.refusal(response)
        }
        let binary: BinaryHTTPResponse
        do {
            binary = try BinaryHTTPResponse(decoding: try sealed.openResponse(Array(response.body.readableBytesView)))
        } catch {
            throw ObliviousClientError(.malformedResponse, "the encapsulated response: \(error.reason)")
        }
        return ClientResponse(
            status: HTTPResponseStatus(statusCode: binary.status),
            headers: HTTPHeaders(binary.headerFields.map { ($0.name, $0.value) }),
            body: ByteBuffer(bytes: binary.content))
    }

    /// The error for a gateway's outer (unencrypted) refusal.
    private static func refusal(_ response: ClientResponse) -> ObliviousClientError {
        let problem = (try? JSONParser.parse(Array(response.body.readableBytesView)))?.objectValue
        let detail = problem?["detail"]?.stringValue ?? problem?["error"]?.stringValue ?? response.text
        if problem?["type"]?.stringValue == "https://iana.org/assignments/http-problem-types#ohttp-key" {
            return ObliviousClientError(.keyConfigurationRefused, "the gateway refused the key: \(detail)")
        }
        return ObliviousClientError(.gatewayRefused, "the gateway answered \(response.status.code): \(detail)")
    }
}

/// Key configurations whose evidence a client verified.
public struct AttestedKeys: Sendable {
    /// The server's answer, as received.
    public let document: AttestationDocument
    /// The evidence's verified claims.
    public let evidence: VerifiedEvidence
    /// Every configuration the evidence binds.
    public let configurations: [OHTTPKeyConfiguration]
    /// The configuration requests are encrypted to: the first with a suite the client implements.
    public let configuration: OHTTPKeyConfiguration
    /// The client's nonce the evidence binds.
    public let nonce: [UInt8]
    /// What the server's measurement log says is live: its executable, plugins, models and access settings.
    public let measured: MeasuredState
}

/// Why an ``ObliviousClient`` could not trust a server or exchange a request.
public struct ObliviousClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of an error; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public let description: String

        /// `GET /attestation` did not answer 200.
        public static let attestationUnavailable = Code(description: "attestationUnavailable")
        /// The attestation document is not valid JSON of the expected form, or its keys are unusable.
        public static let malformedAttestation = Code(description: "malformedAttestation")
        /// The evidence does not satisfy the policy or does not bind the keys and the nonce.
        public static let attestationRefused = Code(description: "attestationRefused")
        /// The gateway no longer accepts the key configuration (`ohttp-key` problem type).
        public static let keyConfigurationRefused = Code(description: "keyConfigurationRefused")
        /// The gateway refused the encapsulated request for another reason.
        public static let gatewayRefused = Code(description: "gatewayRefused")
        /// The encapsulated or inner response cannot be decrypted or decoded.
        public static let malformedResponse = Code(description: "malformedResponse")
        /// An argument is out of range.
        public static let invalidArgument = Code(description: "invalidArgument")
    }

    /// What went wrong, for matching.
    public let code: Code
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: ObliviousClientError, rhs: ObliviousClientError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { message }
}
