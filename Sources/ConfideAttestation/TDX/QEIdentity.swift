import ConfideJSON
import ConfideMeasurement

/// The identity a quoting enclave's report must have: Intel's QE Identity fields (MRSIGNER, ISVPRODID, and
/// MISCSELECT and ATTRIBUTES under their masks). Without it, any enclave whose report the platform's PCK key
/// signs — one the host wrote itself — could sign quotes for any TD.
public struct QEIdentity: Sendable, Hashable {
    /// The hash of the enclave signer's key (32 bytes).
    public let mrSigner: [UInt8]
    /// The product ID.
    public let isvProdID: UInt16
    /// The MISCSELECT value expected under ``miscSelectMask``.
    public let miscSelect: UInt32
    /// The MISCSELECT bits that are compared.
    public let miscSelectMask: UInt32
    /// The ATTRIBUTES expected under ``attributesMask`` (16 bytes).
    public let attributes: [UInt8]
    /// The ATTRIBUTES bits that are compared (16 bytes).
    public let attributesMask: [UInt8]

    /// Creates an identity.
    public init(
        mrSigner: [UInt8], isvProdID: UInt16, miscSelect: UInt32, miscSelectMask: UInt32, attributes: [UInt8],
        attributesMask: [UInt8]
    ) {
        self.mrSigner = mrSigner
        self.isvProdID = isvProdID
        self.miscSelect = miscSelect
        self.miscSelectMask = miscSelectMask
        self.attributes = attributes
        self.attributesMask = attributesMask
    }

    /// Intel's production TD quoting enclave, as Intel's PCS publishes it (QE Identity `TD_QE`, version 2):
    /// MRSIGNER `dc9e2a7c…0e54a8c5`, ISVPRODID 2, MISCSELECT 0 under mask `ffffffff`, ATTRIBUTES `11` and zeros
    /// under mask `fbffffffffffffff` and zeros (the DEBUG bit must be clear).
    public static let intelTDQE = QEIdentity(
        mrSigner: [
            0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
            0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5,
        ],
        isvProdID: 2, miscSelect: 0, miscSelectMask: 0xFFFF_FFFF,
        attributes: [0x11] + [UInt8](repeating: 0, count: 15),
        attributesMask: [0xFB] + [UInt8](repeating: 0xFF, count: 7) + [UInt8](repeating: 0, count: 8))

    /// Refuses a QE report whose identity differs, or whose enclave runs in debug mode, naming the first field that
    /// does (in dcap-qvl's order: MRSIGNER, DEBUG, ISVPRODID, MISCSELECT, ATTRIBUTES).
    public func check(_ report: SGXReportBody) throws(AttestationError) {
        guard report.mrSigner == mrSigner else {
            throw AttestationError(
                .qeIdentityMismatch,
                "the quoting enclave's MRSIGNER \(Hex.encode(report.mrSigner)) is not Intel's \(Hex.encode(mrSigner))")
        }
        guard (report.attributes.first ?? 0) & 0x02 == 0 else {
            throw AttestationError(
                .qeIdentityMismatch, "the quoting enclave runs in debug mode (its ATTRIBUTES have the DEBUG bit set)")
        }
        guard report.isvProdID == isvProdID else {
            throw AttestationError(
                .qeIdentityMismatch, "the quoting enclave's ISVPRODID is \(report.isvProdID), not \(isvProdID)")
        }
        guard report.miscSelect & miscSelectMask == miscSelect & miscSelectMask else {
            throw AttestationError(
                .qeIdentityMismatch,
                "the quoting enclave's MISCSELECT \(String(report.miscSelect, radix: 16)) does not match under its mask"
            )
        }
        guard report.attributes.count == attributesMask.count, attributes.count == attributesMask.count,
            zip(zip(report.attributes, attributes), attributesMask).allSatisfy({ ($0.0 & $1) == ($0.1 & $1) })
        else {
            throw AttestationError(
                .qeIdentityMismatch,
                "the quoting enclave's ATTRIBUTES \(Hex.encode(report.attributes)) do not match under their mask")
        }
    }
}
