import ConfideJSON
import ConfideMeasurement

/// A raw TDREPORT as `TDX_CMD_GET_REPORT0` returns it (1024 bytes).
///
/// A TDREPORT is authenticated by a MAC that only the CPU can check, not by a signature: parse it to read its fields,
/// never trust it as evidence. Remote verifiers need a quote (``TDXQuote``).
public struct TDReport: Sendable, Hashable {
    /// The report type: TEE type (0x81 for TDX), subtype, version, reserved.
    public let reportType: [UInt8]
    /// The CPU security version (16 bytes).
    public let cpuSVN: [UInt8]
    /// SHA-384 of the TEE TCB info (48 bytes).
    public let teeTCBInfoHash: [UInt8]
    /// SHA-384 of the TD info (48 bytes).
    public let teeInfoHash: [UInt8]
    /// The 64 bytes of report data the TD supplied.
    public let reportData: [UInt8]
    /// The MAC over the report (32 bytes).
    public let mac: [UInt8]
    /// The TD's attributes (8 bytes).
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

    /// The size of a TDREPORT in bytes.
    public static let size = 1024

    /// Parses a 1024-byte TDREPORT.
    ///
    /// - Throws: ``AttestationError`` when the input is not 1024 bytes or is not a TDX report.
    public init(bytes: [UInt8]) throws(AttestationError) {
        guard bytes.count <= Self.size else {
            throw AttestationError(.oversized, "TDREPORT is \(bytes.count) bytes, expected \(Self.size)")
        }
        var reader = ByteReader(bytes, what: "TDREPORT")
        self.reportType = try reader.read(4, "report type")
        try reader.skip(12, "reserved")
        self.cpuSVN = try reader.read(16, "CPUSVN")
        self.teeTCBInfoHash = try reader.read(48, "TEE_TCB_INFO_HASH")
        self.teeInfoHash = try reader.read(48, "TEE_INFO_HASH")
        self.reportData = try reader.read(64, "REPORTDATA")
        try reader.skip(32, "reserved")
        self.mac = try reader.read(32, "MAC")
        try reader.skip(256, "TEE_TCB_INFO and reserved")
        self.tdAttributes = try reader.read(8, "ATTRIBUTES")
        self.xfam = try reader.read(8, "XFAM")
        self.mrTD = try reader.read(48, "MRTD")
        self.mrConfigID = try reader.read(48, "MRCONFIGID")
        self.mrOwner = try reader.read(48, "MROWNER")
        self.mrOwnerConfig = try reader.read(48, "MROWNERCONFIG")
        var rtmrs: [[UInt8]] = []
        for index in 0..<4 {
            rtmrs.append(try reader.read(48, "RTMR\(index)"))
        }
        self.rtmrs = rtmrs
        try reader.skip(reader.remaining, "SERVTD_HASH and reserved")
        guard bytes.count == Self.size else {
            throw AttestationError(.truncated, "TDREPORT is \(bytes.count) bytes, expected \(Self.size)")
        }
        guard self.reportType.first == UInt8(TDXQuoteHeader.tdxTEEType) else {
            throw AttestationError(.unsupportedFormat, "TDREPORT type \(Hex.encode(self.reportType)) is not TDX")
        }
    }
}
