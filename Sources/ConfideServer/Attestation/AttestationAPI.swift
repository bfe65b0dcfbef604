public import ConfideAttestation
public import ConfideEnvelope
import ConfideJSON
public import ConfideMeasurement
public import Logging
import NIOCore
import NIOHTTP1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `GET /attestation?nonce=<hex>`: evidence that binds the gateway's current key configurations and the server's
/// measurement log to the client's nonce, in front of another responder.
///
/// The nonce is 16 to 64 bytes in hexadecimal. The answer is JSON:
///
/// ```json
/// {"evidence_type": "tdx-quote" | "sev-snp-report" | "simulated",
///  "evidence": "<base64>",
///  "key_configurations": "<base64 of the application/ohttp-keys body>",
///  "measurements": {"register": "rtmr3", "events": [...]},
///  "insecure": false,
///  "public_key": "<base64, simulated evidence only: the P-256 key x || y that signs it>",
///  "endorsements": {"tdx_collateral": "<base64 of the PCS collateral JSON>",
///                   "snp_certificates": "<base64 of the VCEK/VLEK chain>"}}
/// ```
///
/// `endorsements` and its members are present when the server has them; `measurements` is the log as
/// `MeasurementLogSnapshot.json(register:)` writes it. The evidence's 64-byte report data is
/// ``reportData(keyConfigurations:nonce:measurementLog:)`` of exactly the `key_configurations` bytes returned, the
/// nonce and the digest of exactly the events returned. Every other request goes to the wrapped responder.
public final class AttestationAPI: RouteResponder {
    /// The endpoint's path.
    public static let path = "/attestation"

    private let provider: any EvidenceProvider
    private let keyStore: GatewayKeyStore
    private let measurements: MeasurementLog
    private let register: String
    private let next: any RouteResponder
    private let logger: Logger

    /// How many times evidence is taken again when events were recorded while it was being produced.
    static let attempts = 3

    /// Serves evidence from `provider` for the keys of `keyStore` and the log `measurements`, anchored in the
    /// register named `register` (`none` when bound through the report data only); other requests go to `next`.
    public init(
        provider: any EvidenceProvider, keyStore: GatewayKeyStore, measurements: MeasurementLog, register: String,
        next: any RouteResponder, logger: Logger
    ) {
        self.provider = provider
        self.keyStore = keyStore
        self.measurements = measurements
        self.register = register
        self.next = next
        self.logger = logger
    }

    /// The P-256 public key (`x || y`) that signs simulated evidence, when `provider` produces it.
    public static func simulatedPublicKey(of provider: any EvidenceProvider) -> [UInt8]? {
        provider.unwrapped(as: SimulatedEvidenceProvider.self)?.publicKey
    }

    public func handle(_ request: RoutedRequest, reply: @escaping RouteReply) {
        guard request.route.action == .attestation else {
            return next.handle(request, reply: reply)
        }
        let nonce: [UInt8]
        do {
            nonce = try Self.nonce(request.route.query)
        } catch {
            return reply(.failure(error))
        }
        // The same bytes are bound and returned, so a rotation in between cannot make them disagree.
        guard let keys = try? keyStore.encodedConfigurations() else {
            logger.error("cannot encode the gateway's key configurations")
            return reply(.failure(APIError(.internalServerError, "the key configurations cannot be bound")))
        }
        let provider = provider
        let measurements = measurements
        let register = register
        let logger = logger
        // Routes are answered from a callback (an event loop's), the evidence provider is async: a task bridges them.
        Task {
            for _ in 0..<Self.attempts {
                let log = measurements.snapshot
                let evidence: Evidence
                do throws(AttestationError) {
                    let binding = try reportData(keyConfigurations: keys, nonce: nonce, measurementLog: log.digest)
                    evidence = try await provider.evidence(reportData: binding)
                } catch {
                    logger.error("attestation evidence unavailable", metadata: ["error": "\(error)"])
                    return reply(.failure(.overloaded("attestation evidence is unavailable: \(error.message)")))
                }
                // An event recorded meanwhile is in the register the evidence reports but not in this log.
                guard measurements.count == log.events.count else { continue }
                let document = Self.document(evidence, keys: keys, log: log, register: register, provider: provider)
                return reply(.success(.json(.ok, document)))
            }
            reply(.failure(.overloaded("the measurement log kept changing while evidence was produced; retry")))
        }
    }

    private static func document(
        _ evidence: Evidence, keys: [UInt8], log: MeasurementLogSnapshot, register: String,
        provider: any EvidenceProvider
    ) -> [UInt8] {
        var object = JSONObject([
            "evidence_type": .string(evidence.type.rawValue),
            "evidence": .string(Data(evidence.bytes).base64EncodedString()),
            "key_configurations": .string(Data(keys).base64EncodedString()),
            "measurements": log.json(register: register),
            "insecure": .bool(provider.isInsecure),
        ])
        if evidence.type == .simulated, let publicKey = simulatedPublicKey(of: provider) {
            object["public_key"] = .string(Data(publicKey).base64EncodedString())
        }
        if !evidence.endorsements.isEmpty {
            var endorsements = JSONObject()
            if let collateral = evidence.endorsements.tdxCollateral {
                endorsements["tdx_collateral"] = .string(Data(collateral).base64EncodedString())
            }
            if let certificates = evidence.endorsements.snpCertificates {
                endorsements["snp_certificates"] = .string(Data(certificates).base64EncodedString())
            }
            object["endorsements"] = .object(endorsements)
        }
        return JSONValue.object(object).serialized
    }

    /// The `nonce` parameter, decoded from hexadecimal and 16 to 64 bytes long.
    static func nonce(_ query: QueryParameters) throws(APIError) -> [UInt8] {
        guard let text = query["nonce"] else {
            throw .badRequest("give a nonce: \(path)?nonce=<hex, 16 to 64 bytes>")
        }
        let digits = Array(text.utf8)
        let lengths = KeyBinding.nonceLengths
        guard digits.count % 2 == 0, lengths.contains(digits.count / 2) else {
            throw .badRequest(
                "the nonce has \(digits.count) hexadecimal digits; it must be \(lengths.lowerBound) to "
                    + "\(lengths.upperBound) bytes (\(lengths.lowerBound * 2) to \(lengths.upperBound * 2) digits)")
        }
        guard let bytes = Hex.decode(utf8: digits) else { throw .badRequest("the nonce is not hexadecimal") }
        return bytes
    }
}
