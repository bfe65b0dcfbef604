/// An Intel TDX DCAP quote, version 4 or 5, with every field parsed.
///
/// Parsing checks structure only; ``TDXQuoteVerifier`` checks the signatures and the certificate chain.
public struct TDXQuote: Sendable, Hashable {
    /// The 48-byte quote header.
    public let header: TDXQuoteHeader
    /// The type of the TD report body (version 4 quotes always carry ``TDXReportBody/Kind-swift.enum/tdx10``).
    public let bodyKind: TDXReportBody.Kind
    /// The TD report body: the measurements and report data of the trust domain.
    public let body: TDXReportBody
    /// The ECDSA signature data that authenticates ``signedBytes``.
    public let signatureData: TDXQuoteSignatureData
    /// The bytes the quote signature covers: header, body descriptor (version 5) and body.
    public let signedBytes: [UInt8]

    /// The largest quote accepted, in bytes; real quotes are about 5 KB.
    public static let maximumSize = 64 * 1024
}

/// The header of a TDX quote.
public struct TDXQuoteHeader: Sendable, Hashable {
    /// The quote format version: 4 or 5.
    public let version: UInt16
    /// The attestation key type; 2 is ECDSA-256 with P-256, the only type defined.
    public let attestationKeyType: UInt16
    /// The TEE type; 0x81 is TDX.
    public let teeType: UInt32
    /// The quoting enclave's security version (reserved in later formats).
    public let qeSVN: UInt16
    /// The provisioning certification enclave's security version (reserved in later formats).
    public let pceSVN: UInt16
    /// The vendor of the quoting enclave (16 bytes); Intel's is ``TDXQuoteHeader/intelQEVendorID``.
    public let qeVendorID: [UInt8]
    /// Data the quoting enclave adds (20 bytes).
    public let userData: [UInt8]

    /// The size of the header in bytes.
    public static let size = 48
    /// The attestation key type for ECDSA-256 with P-256.
    public static let ecdsaP256KeyType: UInt16 = 2
    /// The TEE type value for Intel TDX.
    public static let tdxTEEType: UInt32 = 0x81
    /// Intel's quoting enclave vendor ID.
    public static let intelQEVendorID: [UInt8] = [
        0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
    ]
}

/// The TD report body of a quote: the trust domain's measurements and report data.
public struct TDXReportBody: Sendable, Hashable {
    /// The layout of the body.
    public enum Kind: UInt16, Sendable, Hashable {
        /// TDX 1.0, 584 bytes (version 4 quotes; body type 2 in version 5).
        case tdx10 = 2
        /// TDX 1.5, 648 bytes, adding ``TDXReportBody/teeTCBSVN2`` and ``TDXReportBody/mrServiceTD`` (body type 3).
        case tdx15 = 3

        /// The size of a body of this kind in bytes.
        public var size: Int {
            switch self {
            case .tdx10: 584
            case .tdx15: 648
            }
        }
    }

    /// The TEE TCB security version numbers (16 bytes).
    public let teeTCBSVN: [UInt8]
    /// The measurement of the TDX module (48 bytes).
    public let mrSeam: [UInt8]
    /// The signer of the TDX module (48 bytes; zero for Intel's module).
    public let mrSignerSeam: [UInt8]
    /// The TDX module's attributes (8 bytes).
    public let seamAttributes: [UInt8]
    /// The trust domain's attributes (8 bytes); bit 0 set means a debug TD.
    public let tdAttributes: [UInt8]
    /// The extended features available to the TD (8 bytes).
    public let xfam: [UInt8]
    /// The measurement of the initial TD contents (48 bytes).
    public let mrTD: [UInt8]
    /// The software-defined configuration ID (48 bytes).
    public let mrConfigID: [UInt8]
    /// The software-defined owner ID (48 bytes).
    public let mrOwner: [UInt8]
    /// The software-defined owner configuration (48 bytes).
    public let mrOwnerConfig: [UInt8]
    /// The four run-time extendable measurement registers, 48 bytes each.
    public let rtmrs: [[UInt8]]
    /// The 64 bytes of report data the TD supplied.
    public let reportData: [UInt8]
    /// The second TEE TCB SVN (16 bytes), TDX 1.5 bodies only.
    public let teeTCBSVN2: [UInt8]?
    /// The measurement of the service TD (48 bytes), TDX 1.5 bodies only.
    public let mrServiceTD: [UInt8]?

    /// Whether the TD runs in debug mode (TD attribute bit 0), in which its memory is not confidential.
    public var isDebug: Bool {
        (self.tdAttributes.first ?? 0) & 1 == 1
    }
}

/// The ECDSA signature data of a quote (certification data type 6).
public struct TDXQuoteSignatureData: Sendable, Hashable {
    /// The quote signature, `r || s`, 32 bytes each, over ``TDXQuote/signedBytes``.
    public let signature: [UInt8]
    /// The attestation public key, `x || y`, 32 bytes each.
    public let attestationKey: [UInt8]
    /// The quoting enclave's report, signed by the PCK.
    public let qeReport: SGXReportBody
    /// The signature of the QE report by the PCK leaf key, `r || s`.
    public let qeReportSignature: [UInt8]
    /// The QE authentication data hashed into the QE report's report data.
    public let qeAuthenticationData: [UInt8]
    /// The PCK certificate chain (leaf, intermediate, root) as PEM bytes (certification data type 5).
    public let pckCertificateChain: [UInt8]

    /// Certification data type: the QE report certification data.
    public static let qeReportCertificationDataType: UInt16 = 6
    /// Certification data type: the PCK certificate chain in PEM.
    public static let pckCertificateChainType: UInt16 = 5
}

/// An SGX enclave report body (384 bytes), as used for the quoting enclave's report.
public struct SGXReportBody: Sendable, Hashable {
    /// The CPU security version (16 bytes).
    public let cpuSVN: [UInt8]
    /// The enclave's MISCSELECT.
    public let miscSelect: UInt32
    /// The enclave's attributes (16 bytes).
    public let attributes: [UInt8]
    /// The enclave measurement (32 bytes).
    public let mrEnclave: [UInt8]
    /// The hash of the enclave signer's key (32 bytes).
    public let mrSigner: [UInt8]
    /// The product ID.
    public let isvProdID: UInt16
    /// The security version.
    public let isvSVN: UInt16
    /// The 64 bytes of report data.
    public let reportData: [UInt8]
    /// The whole 384-byte report, as signed.
    public let raw: [UInt8]

    /// The size of the report in bytes.
    public static let size = 384
}
