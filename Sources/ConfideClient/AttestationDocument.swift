public import ConfideAttestation
import ConfideJSON
public import ConfideMeasurement

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a server answers at `GET /attestation?nonce=<hex>`: its evidence and the key configurations it binds.
///
/// The JSON members are `evidence_type` (`tdx-quote`, `sev-snp-report` or `simulated`), `evidence` (base64),
/// `key_configurations` (base64 of an `application/ohttp-keys` body), `measurements` (the server's measurement log,
/// see `MeasurementLogSnapshot.parse(_:)`), `insecure` and, for simulated evidence,
/// `public_key` (base64 of the P-256 key `x || y` that signs it), and optionally `endorsements` with the members
/// `tdx_collateral` and `snp_certificates` (base64, see ``Endorsements``). Nothing in it is trusted until
/// ``AttestationVerifier`` has checked the evidence against a policy.
public struct AttestationDocument: Sendable, Hashable {
    /// The kind of evidence.
    public var evidenceType: EvidenceType
    /// The serialized evidence.
    public var evidence: [UInt8]
    /// The key configurations (`application/ohttp-keys`) whose binding the evidence's report data carries.
    public var keyConfigurations: [UInt8]
    /// The server's measurement log, whose digest the evidence's report data binds.
    public var measurements: MeasurementLogSnapshot
    /// Where the server says it anchors its log: `rtmr3`, `simulated-rtmr3`, `aael` or `none`.
    public var register: String
    /// Whether the server says its evidence proves nothing (simulated).
    public var insecure: Bool
    /// The key that signs simulated evidence, `x || y`; `nil` for hardware evidence.
    public var publicKey: [UInt8]?
    /// The collateral and certificates the server sent with its evidence.
    public var endorsements: Endorsements

    /// Creates a document.
    public init(
        evidenceType: EvidenceType, evidence: [UInt8], keyConfigurations: [UInt8],
        measurements: MeasurementLogSnapshot, register: String, insecure: Bool,
        publicKey: [UInt8]? = nil, endorsements: Endorsements = Endorsements()
    ) {
        self.evidenceType = evidenceType
        self.evidence = evidence
        self.keyConfigurations = keyConfigurations
        self.measurements = measurements
        self.register = register
        self.insecure = insecure
        self.publicKey = publicKey
        self.endorsements = endorsements
    }

    /// Parses the JSON a server answered; throws ``ObliviousClientError/Code/malformedAttestation``.
    public init(json: [UInt8]) throws(ObliviousClientError) {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(json)
        } catch {
            throw ObliviousClientError(.malformedAttestation, "the attestation document is not JSON: \(error)")
        }
        guard let object = parsed.objectValue else {
            throw ObliviousClientError(.malformedAttestation, "the attestation document is not a JSON object")
        }
        guard let typeName = object["evidence_type"]?.stringValue, let type = EvidenceType(rawValue: typeName) else {
            throw ObliviousClientError(.malformedAttestation, "the attestation document names no known evidence type")
        }
        self.evidenceType = type
        self.evidence = try Self.base64(object, "evidence")
        self.keyConfigurations = try Self.base64(object, "key_configurations")
        guard let log = object["measurements"] else {
            throw ObliviousClientError(.malformedAttestation, "the attestation document has no measurement log")
        }
        do {
            (self.measurements, self.register) = try MeasurementLogSnapshot.parse(log)
        } catch {
            throw ObliviousClientError(.malformedAttestation, "the attestation document's \(error.message)")
        }
        self.insecure = object["insecure"]?.boolValue ?? (type == .simulated)
        self.publicKey = object["public_key"] == nil ? nil : try Self.base64(object, "public_key")
        self.endorsements = Endorsements()
        if let member = object["endorsements"] {
            guard let endorsements = member.objectValue else {
                throw ObliviousClientError(
                    .malformedAttestation, "the attestation document's endorsements is not an object")
            }
            if endorsements["tdx_collateral"] != nil {
                self.endorsements.tdxCollateral = try Self.base64(endorsements, "tdx_collateral")
            }
            if endorsements["snp_certificates"] != nil {
                self.endorsements.snpCertificates = try Self.base64(endorsements, "snp_certificates")
            }
        }
    }

    private static func base64(_ object: JSONObject, _ key: String) throws(ObliviousClientError) -> [UInt8] {
        guard let text = object[key]?.stringValue, let data = Data(base64Encoded: text) else {
            throw ObliviousClientError(.malformedAttestation, "the attestation document's \(key) is not base64")
        }
        return Array(data)
    }
}
