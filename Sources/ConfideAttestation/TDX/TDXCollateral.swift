import ConfideJSON
import ConfideMeasurement
public import Foundation
import SwiftASN1
public import X509

/// Intel PCS collateral for a TDX quote, parsed but not yet trusted: TCB Info, QE Identity, their signatures and
/// issuer chains, the PCK CRL, and the Intel SGX Root CA's CRL.
///
/// The input is the JSON object dcap-qvl and dstack use: `tcb_info` and `qe_identity` hold, as strings, the exact
/// JSON text Intel signed; `tcb_info_signature` and `qe_identity_signature` are hexadecimal `r || s`; the
/// `*_issuer_chain` members are PEM; `pck_crl` and `root_ca_crl` are hexadecimal DER (PEM is accepted too); the
/// optional `pck_certificate_chain` (PEM), which dcap-qvl's collateral client adds, is the PCK chain to use instead
/// of the quote's. `pck_crl_issuer_chain` must be present but is not read: as dcap-qvl does, the PCK CRL is verified
/// with the CA of the PCK chain.
/// ``TDXCollateralVerifier`` checks it.
public struct TDXCollateral: Sendable {
    /// The TCB Info: the TCB levels of the platform's FMSPC.
    public let tcbInfo: TDXTCBInfo
    /// The exact bytes of the TCB Info JSON that ``tcbInfoSignature`` signs.
    public let tcbInfoBytes: [UInt8]
    /// The TCB Info signature, `r || s` (64 bytes).
    public let tcbInfoSignature: [UInt8]
    /// The TCB signing certificate and the certificates above it.
    public let tcbInfoIssuerChain: [Certificate]
    /// The identity of Intel's TD quoting enclave and its TCB levels.
    public let qeIdentity: TDXEnclaveIdentity
    /// The exact bytes of the QE Identity JSON that ``qeIdentitySignature`` signs.
    public let qeIdentityBytes: [UInt8]
    /// The QE Identity signature, `r || s` (64 bytes).
    public let qeIdentitySignature: [UInt8]
    /// The QE Identity's signing certificate and the certificates above it.
    public let qeIdentityIssuerChain: [Certificate]
    /// The revocation list of the CA that issued PCK certificates (the Platform or Processor CA).
    public let pckCRL: CertificateRevocationList
    /// The Intel SGX Root CA's revocation list of the intermediate CAs and the TCB signing certificate.
    public let rootCACRL: CertificateRevocationList
    /// The PEM text of the PCK certificate chain the collateral carries (`pck_certificate_chain`); when present,
    /// it is verified instead of the chain in the quote, as dcap-qvl does.
    public let pckCertificateChain: [UInt8]?

    /// The largest collateral accepted, in bytes; Intel's is about 20 KB.
    public static let maximumSize = 1024 * 1024

    private struct Wire: Decodable {
        let tcbInfo: String
        let tcbInfoSignature: String
        let tcbInfoIssuerChain: String
        let qeIdentity: String
        let qeIdentitySignature: String
        let qeIdentityIssuerChain: String
        let pckCRL: String
        let pckCRLIssuerChain: String
        let rootCACRL: String
        let pckCertificateChain: String?

        enum CodingKeys: String, CodingKey {
            case tcbInfo = "tcb_info"
            case tcbInfoSignature = "tcb_info_signature"
            case tcbInfoIssuerChain = "tcb_info_issuer_chain"
            case qeIdentity = "qe_identity"
            case qeIdentitySignature = "qe_identity_signature"
            case qeIdentityIssuerChain = "qe_identity_issuer_chain"
            case pckCRL = "pck_crl"
            case pckCRLIssuerChain = "pck_crl_issuer_chain"
            case rootCACRL = "root_ca_crl"
            case pckCertificateChain = "pck_certificate_chain"
        }
    }

    /// Parses collateral JSON.
    ///
    /// - Throws: ``AttestationError`` naming the member that is missing, oversized or malformed.
    public init(json: [UInt8]) throws(AttestationError) {
        guard json.count <= Self.maximumSize else {
            throw AttestationError(.oversized, "TDX collateral is \(json.count) bytes, at most \(Self.maximumSize)")
        }
        let wire = try CollateralJSON.decode(Wire.self, from: json, what: "TDX collateral")
        self.tcbInfoBytes = Array(wire.tcbInfo.utf8)
        self.tcbInfo = try TDXTCBInfo(json: self.tcbInfoBytes)
        self.tcbInfoSignature = try Self.signature(wire.tcbInfoSignature, "tcb_info_signature")
        self.tcbInfoIssuerChain = try Self.chain(wire.tcbInfoIssuerChain, "tcb_info_issuer_chain")
        self.qeIdentityBytes = Array(wire.qeIdentity.utf8)
        self.qeIdentity = try TDXEnclaveIdentity(json: self.qeIdentityBytes)
        self.qeIdentitySignature = try Self.signature(wire.qeIdentitySignature, "qe_identity_signature")
        self.qeIdentityIssuerChain = try Self.chain(wire.qeIdentityIssuerChain, "qe_identity_issuer_chain")
        self.pckCRL = try Self.crl(wire.pckCRL, "pck_crl")
        self.rootCACRL = try Self.crl(wire.rootCACRL, "root_ca_crl")
        self.pckCertificateChain = wire.pckCertificateChain.map { Array($0.utf8) }
    }

    private static func signature(_ text: String, _ member: String) throws(AttestationError) -> [UInt8] {
        guard let bytes = Hex.decode(text), bytes.count == 64 else {
            throw AttestationError(.malformed, "TDX collateral: \(member) is not 64 bytes of hex (r || s)")
        }
        return bytes
    }

    private static func chain(_ text: String, _ member: String) throws(AttestationError) -> [Certificate] {
        let (leaf, others) = try CertificatePath.parse(text, what: "TDX collateral: \(member)")
        return [leaf] + others
    }

    private static func crl(_ text: String, _ member: String) throws(AttestationError) -> CertificateRevocationList {
        let what = "the \(member == "pck_crl" ? "PCK CRL" : "root CA CRL")"
        if let der = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return try CertificateRevocationList(derEncoded: der, what: what)
        }
        guard let document = try? PEMDocument(pemString: text), document.discriminator == "X509 CRL" else {
            throw AttestationError(.malformed, "TDX collateral: \(member) is neither hex DER nor a PEM X509 CRL")
        }
        return try CertificateRevocationList(derEncoded: document.derBytes, what: what)
    }
}

/// Intel's TDX TCB Info (version 3): the TCB levels of one FMSPC, and the TDX module identities.
public struct TDXTCBInfo: Sendable, Hashable {
    /// One TCB level: the minimum SVNs that reach it, and the status of a platform at it.
    public struct Level: Sendable, Hashable {
        /// The minimum SGX TCB component SVNs (16).
        public let sgxComponents: [UInt8]
        /// The minimum PCESVN.
        public let pceSVN: UInt16
        /// The minimum TDX TCB component SVNs (16), compared with the quote's TEE_TCB_SVN.
        public let tdxComponents: [UInt8]
        /// The date of the level.
        public let tcbDate: Date
        /// The status of a platform at this level.
        public let status: TCBStatus
        /// Intel's security advisories that apply at this level.
        public let advisoryIDs: [String]
    }

    /// The TCB Info's identifier; `TDX` for TDX.
    public let id: String
    /// The TCB Info format version; 3 for TDX.
    public let version: Int
    /// When Intel issued it.
    public let issueDate: Date
    /// When Intel will issue the next one; it must not be used after it.
    public let nextUpdate: Date
    /// The FMSPC (6 bytes) of the platforms it describes.
    public let fmspc: [UInt8]
    /// The PCE ID (2 bytes).
    public let pceID: [UInt8]
    /// The TCB evaluation data number: it grows with every TCB recovery Intel publishes.
    public let tcbEvaluationDataNumber: Int
    /// The identity of the TDX module (`tdxModule`), checked against the quote's MRSIGNERSEAM and SEAMATTRIBUTES.
    public let tdxModule: TDXModuleIdentity?
    /// The identities and TCB levels of the TDX module versions (`tdxModuleIdentities`, ids `TDX_01`, ...).
    public let tdxModuleIdentities: [TDXModuleIdentity]
    /// The TCB levels, highest first.
    public let tcbLevels: [Level]

    private struct Wire: Decodable {
        struct Component: Decodable {
            let svn: Int
        }
        struct TCB: Decodable {
            let sgxtcbcomponents: [Component]
            let pcesvn: Int
            let tdxtcbcomponents: [Component]?
        }
        struct Level: Decodable {
            let tcb: TCB
            let tcbDate: String
            let tcbStatus: String
            let advisoryIDs: [String]?
        }
        let id: String
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let fmspc: String
        let pceId: String
        let tcbType: Int
        let tcbEvaluationDataNumber: Int
        let tdxModule: TDXModuleIdentity.Wire?
        let tdxModuleIdentities: [TDXModuleIdentity.Wire]?
        let tcbLevels: [Level]
    }

    /// Parses TCB Info JSON text (the `tcbInfo` member Intel signs).
    ///
    /// - Throws: ``AttestationError`` naming the field that is missing or malformed.
    public init(json: [UInt8]) throws(AttestationError) {
        let what = "TCB Info"
        let wire = try CollateralJSON.decode(Wire.self, from: json, what: what)
        guard wire.id == "TDX", wire.version >= 3 else {
            throw AttestationError(
                .collateralMismatch, "TCB Info is \(wire.id) version \(wire.version), not TDX version 3 or later")
        }
        guard wire.tcbType == 0 else {
            throw AttestationError(.unsupportedFormat, "TCB Info has TCB type \(wire.tcbType), only 0 is defined")
        }
        self.id = wire.id
        self.version = wire.version
        self.issueDate = try CollateralJSON.date(wire.issueDate, what, "issueDate")
        self.nextUpdate = try CollateralJSON.date(wire.nextUpdate, what, "nextUpdate")
        self.fmspc = try CollateralJSON.bytes(wire.fmspc, 6, what, "fmspc")
        self.pceID = try CollateralJSON.bytes(wire.pceId, 2, what, "pceId")
        self.tcbEvaluationDataNumber = wire.tcbEvaluationDataNumber
        self.tdxModule = try wire.tdxModule.map { (module) throws(AttestationError) in
            try TDXModuleIdentity(module, what: "TCB Info tdxModule")
        }
        var identities: [TDXModuleIdentity] = []
        for identity in wire.tdxModuleIdentities ?? [] {
            identities.append(try TDXModuleIdentity(identity, what: "TCB Info tdxModuleIdentities"))
        }
        self.tdxModuleIdentities = identities
        guard !wire.tcbLevels.isEmpty else {
            throw AttestationError(.malformed, "TCB Info has no TCB levels")
        }
        var levels: [Level] = []
        for (index, level) in wire.tcbLevels.enumerated() {
            let field = "tcbLevels[\(index)]"
            let sgx = try Self.components(level.tcb.sgxtcbcomponents, field + ".sgxtcbcomponents")
            let tdx = try Self.components(level.tcb.tdxtcbcomponents ?? [], field + ".tdxtcbcomponents")
            guard (0...Int(UInt16.max)).contains(level.tcb.pcesvn) else {
                throw AttestationError(.malformed, "TCB Info \(field).pcesvn \(level.tcb.pcesvn) is out of range")
            }
            levels.append(
                Level(
                    sgxComponents: sgx, pceSVN: UInt16(truncatingIfNeeded: level.tcb.pcesvn), tdxComponents: tdx,
                    tcbDate: try CollateralJSON.date(level.tcbDate, what, field + ".tcbDate"),
                    status: try CollateralJSON.status(level.tcbStatus, what, field),
                    advisoryIDs: level.advisoryIDs ?? []))
        }
        // Highest first, as Intel's QVL and dcap-qvl order them before taking the first that the platform reaches.
        self.tcbLevels = levels.enumerated().sorted { lhs, rhs in
            let (left, right) = (lhs.element, rhs.element)
            if left.sgxComponents != right.sgxComponents {
                return left.sgxComponents.lexicographicallyPrecedes(right.sgxComponents) == false
            }
            if left.pceSVN != right.pceSVN {
                return left.pceSVN > right.pceSVN
            }
            if left.tdxComponents != right.tdxComponents {
                return left.tdxComponents.lexicographicallyPrecedes(right.tdxComponents) == false
            }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }

    private static func components(_ components: [Wire.Component], _ field: String) throws(AttestationError)
        -> [UInt8]
    {
        guard components.count == 16 else {
            throw AttestationError(.malformed, "TCB Info \(field) has \(components.count) entries, not 16")
        }
        var svns: [UInt8] = []
        for component in components {
            guard (0...255).contains(component.svn) else {
                throw AttestationError(.malformed, "TCB Info \(field) has SVN \(component.svn), not 0...255")
            }
            svns.append(UInt8(truncatingIfNeeded: component.svn))
        }
        return svns
    }
}

/// The identity of a TDX module in TCB Info: its signer, attributes under a mask, and (for the versioned
/// identities) its TCB levels by ISVSVN.
public struct TDXModuleIdentity: Sendable, Hashable {
    /// The identifier, `TDX_` and the module's major version in two hex digits; `nil` for the `tdxModule` member.
    public let id: String?
    /// The module signer (48 bytes), compared with MRSIGNERSEAM.
    public let mrSigner: [UInt8]
    /// The attributes (8 bytes) expected under ``attributesMask``, compared with SEAMATTRIBUTES.
    public let attributes: [UInt8]
    /// The attribute bits that are compared (8 bytes).
    public let attributesMask: [UInt8]
    /// The TCB levels of this module version, highest first.
    public let tcbLevels: [SVNTCBLevel]

    struct Wire: Decodable {
        let id: String?
        let mrsigner: String
        let attributes: String
        let attributesMask: String
        let tcbLevels: [SVNTCBLevel.Wire]?
    }

    init(_ wire: Wire, what: String) throws(AttestationError) {
        self.id = wire.id
        self.mrSigner = try CollateralJSON.bytes(wire.mrsigner, 48, what, "mrsigner")
        self.attributes = try CollateralJSON.bytes(wire.attributes, 8, what, "attributes")
        self.attributesMask = try CollateralJSON.bytes(wire.attributesMask, 8, what, "attributesMask")
        self.tcbLevels = try SVNTCBLevel.levels(wire.tcbLevels ?? [], what: "\(what) \(wire.id ?? "")")
    }
}

/// A TCB level of an enclave or a TDX module, reached by a minimum ISVSVN.
public struct SVNTCBLevel: Sendable, Hashable {
    /// The minimum ISVSVN.
    public let isvSVN: UInt16
    /// The date of the level.
    public let tcbDate: Date
    /// The status at this level.
    public let status: TCBStatus
    /// Intel's security advisories that apply at this level.
    public let advisoryIDs: [String]

    struct Wire: Decodable {
        struct TCB: Decodable {
            let isvsvn: Int
        }
        let tcb: TCB
        let tcbDate: String
        let tcbStatus: String
        let advisoryIDs: [String]?
    }

    /// The levels, highest ISVSVN first.
    static func levels(_ wires: [Wire], what: String) throws(AttestationError) -> [SVNTCBLevel] {
        var levels: [SVNTCBLevel] = []
        for (index, wire) in wires.enumerated() {
            let field = "tcbLevels[\(index)]"
            guard (0...Int(UInt16.max)).contains(wire.tcb.isvsvn) else {
                throw AttestationError(.malformed, "\(what) \(field).isvsvn \(wire.tcb.isvsvn) is out of range")
            }
            levels.append(
                SVNTCBLevel(
                    isvSVN: UInt16(truncatingIfNeeded: wire.tcb.isvsvn),
                    tcbDate: try CollateralJSON.date(wire.tcbDate, what, field + ".tcbDate"),
                    status: try CollateralJSON.status(wire.tcbStatus, what, field),
                    advisoryIDs: wire.advisoryIDs ?? []))
        }
        return levels.enumerated().sorted {
            $0.element.isvSVN != $1.element.isvSVN ? $0.element.isvSVN > $1.element.isvSVN : $0.offset < $1.offset
        }.map(\.element)
    }

    /// The first of `levels` (highest first) that `isvSVN` reaches.
    static func match(_ isvSVN: UInt16, in levels: [SVNTCBLevel]) -> SVNTCBLevel? {
        levels.first { isvSVN >= $0.isvSVN }
    }
}

/// Intel's identity of the TD quoting enclave (`enclaveIdentity` with id `TD_QE`): the values its report must
/// carry and the TCB levels of its ISVSVN.
public struct TDXEnclaveIdentity: Sendable, Hashable {
    /// The identifier; `TD_QE` for the TDX quoting enclave.
    public let id: String
    /// The format version (2).
    public let version: Int
    /// When Intel issued it.
    public let issueDate: Date
    /// When Intel will issue the next one; it must not be used after it.
    public let nextUpdate: Date
    /// The TCB evaluation data number.
    public let tcbEvaluationDataNumber: Int
    /// MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES with their masks.
    public let identity: QEIdentity
    /// The TCB levels by the enclave's ISVSVN, highest first.
    public let tcbLevels: [SVNTCBLevel]

    private struct Wire: Decodable {
        let id: String
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let tcbEvaluationDataNumber: Int
        let miscselect: String
        let miscselectMask: String
        let attributes: String
        let attributesMask: String
        let mrsigner: String
        let isvprodid: Int
        let tcbLevels: [SVNTCBLevel.Wire]
    }

    /// Parses QE Identity JSON text (the `enclaveIdentity` member Intel signs).
    ///
    /// - Throws: ``AttestationError`` naming the field that is missing or malformed.
    public init(json: [UInt8]) throws(AttestationError) {
        let what = "QE Identity"
        let wire = try CollateralJSON.decode(Wire.self, from: json, what: what)
        guard wire.id == "TD_QE", (2...3).contains(wire.version) else {
            throw AttestationError(
                .collateralMismatch, "QE Identity is \(wire.id) version \(wire.version), not TD_QE version 2 or 3")
        }
        guard (0...Int(UInt16.max)).contains(wire.isvprodid) else {
            throw AttestationError(.malformed, "QE Identity isvprodid \(wire.isvprodid) is out of range")
        }
        self.id = wire.id
        self.version = wire.version
        self.issueDate = try CollateralJSON.date(wire.issueDate, what, "issueDate")
        self.nextUpdate = try CollateralJSON.date(wire.nextUpdate, what, "nextUpdate")
        self.tcbEvaluationDataNumber = wire.tcbEvaluationDataNumber
        let miscSelect = try CollateralJSON.bytes(wire.miscselect, 4, what, "miscselect")
        let miscSelectMask = try CollateralJSON.bytes(wire.miscselectMask, 4, what, "miscselectMask")
        self.identity = QEIdentity(
            mrSigner: try CollateralJSON.bytes(wire.mrsigner, 32, what, "mrsigner"),
            isvProdID: UInt16(truncatingIfNeeded: wire.isvprodid),
            miscSelect: Self.littleEndian(miscSelect), miscSelectMask: Self.littleEndian(miscSelectMask),
            attributes: try CollateralJSON.bytes(wire.attributes, 16, what, "attributes"),
            attributesMask: try CollateralJSON.bytes(wire.attributesMask, 16, what, "attributesMask"))
        guard !wire.tcbLevels.isEmpty else {
            throw AttestationError(.malformed, "QE Identity has no TCB levels")
        }
        self.tcbLevels = try SVNTCBLevel.levels(wire.tcbLevels, what: what)
    }

    /// The MISCSELECT bytes as the report holds them (little-endian), as Intel's QVL and dcap-qvl read them.
    private static func littleEndian(_ bytes: [UInt8]) -> UInt32 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
}

/// Decoding of collateral JSON members into values, with errors that name the member.
enum CollateralJSON {
    static func decode<Value: Decodable>(_ type: Value.Type, from json: [UInt8], what: String) throws(AttestationError)
        -> Value
    {
        do {
            return try JSONDecoder().decode(type, from: Data(json))
        } catch let DecodingError.keyNotFound(key, context) {
            throw AttestationError(.malformed, "\(what) lacks \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw AttestationError(
                .malformed,
                "\(what): \(Self.path(context.codingPath)) has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) {
            throw AttestationError(
                .malformed,
                "\(what) is not valid JSON at \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw AttestationError(.malformed, "\(what) does not decode: \(error)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    static func date(_ text: String, _ what: String, _ field: String) throws(AttestationError) -> Date {
        guard let date = UTCClock.parse(text) else {
            throw AttestationError(.malformed, "\(what) \(field) \"\(text.prefix(40))\" is not a UTC time")
        }
        return date
    }

    static func bytes(_ text: String, _ count: Int, _ what: String, _ field: String) throws(AttestationError)
        -> [UInt8]
    {
        guard let bytes = Hex.decode(text), bytes.count == count else {
            throw AttestationError(.malformed, "\(what) \(field) is not \(count) bytes of hex")
        }
        return bytes
    }

    static func status(_ text: String, _ what: String, _ field: String) throws(AttestationError) -> TCBStatus {
        guard let status = TCBStatus(rawValue: text) else {
            throw AttestationError(.malformed, "\(what) \(field).tcbStatus \"\(text.prefix(40))\" is not a TCB status")
        }
        return status
    }
}
