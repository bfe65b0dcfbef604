/// An AMD SEV-SNP attestation report (1184 bytes), with its fields parsed.
///
/// Parsing checks structure only (size, version 2 to 5, ECDSA P-384); ``SNPReportVerifier`` checks the reserved
/// fields, the signature, the VCEK or VLEK chain to AMD's root and the guest policy.
public struct SNPReport: Sendable, Hashable {
    /// The report format version (2 or later).
    public let version: UInt32
    /// The guest's security version.
    public let guestSVN: UInt32
    /// The guest policy: bit 16 allows SMT, bit 17 is reserved (set), bit 18 allows a migration agent, bit 19 allows
    /// debugging.
    public let policy: UInt64
    /// The family ID supplied at launch (16 bytes).
    public let familyID: [UInt8]
    /// The image ID supplied at launch (16 bytes).
    public let imageID: [UInt8]
    /// The VM privilege level that asked for the report.
    public let vmpl: UInt32
    /// The signature algorithm; 1 is ECDSA P-384 with SHA-384.
    public let signatureAlgorithm: UInt32
    /// The current TCB version.
    public let currentTCB: UInt64
    /// Information about the platform.
    public let platformInfo: UInt64
    /// Signing flags: author key enabled (bit 0), chip key masked (bit 1), signing key (bits 2-4).
    public let signingFlags: UInt32
    /// The 64 bytes of report data the guest supplied.
    public let reportData: [UInt8]
    /// The launch measurement of the guest (48 bytes).
    public let measurement: [UInt8]
    /// Data the host supplied at launch (32 bytes).
    public let hostData: [UInt8]
    /// SHA-384 of the ID key (48 bytes).
    public let idKeyDigest: [UInt8]
    /// SHA-384 of the author key (48 bytes).
    public let authorKeyDigest: [UInt8]
    /// The report ID of the guest (32 bytes).
    public let reportID: [UInt8]
    /// The report ID of the guest's migration agent (32 bytes).
    public let reportIDMigrationAgent: [UInt8]
    /// The TCB version the report is signed at.
    public let reportedTCB: UInt64
    /// The CPUID family of the chip (report version 3 and later; zero before).
    public let cpuidFamily: UInt8
    /// The CPUID model of the chip (report version 3 and later; zero before).
    public let cpuidModel: UInt8
    /// The CPUID stepping of the chip (report version 3 and later; zero before).
    public let cpuidStepping: UInt8
    /// The chip identifier (64 bytes; zero when masked).
    public let chipID: [UInt8]
    /// The committed TCB version.
    public let committedTCB: UInt64
    /// The current firmware build, minor and major versions.
    public let currentVersion: [UInt8]
    /// The committed firmware build, minor and major versions.
    public let committedVersion: [UInt8]
    /// The TCB version at launch.
    public let launchTCB: UInt64
    /// The signature's `r` component, 72 bytes little-endian.
    public let signatureR: [UInt8]
    /// The signature's `s` component, 72 bytes little-endian.
    public let signatureS: [UInt8]
    /// The bytes the signature covers: `[0, 0x2A0)`.
    public let signedBytes: [UInt8]
    /// The reserved bytes after the signature's `r` and `s` (`[0x330, 0x4A0)`), which must be zero.
    let signatureReserved: [UInt8]

    /// The size of a report in bytes.
    public static let size = 1184
    /// The offset of the signature; everything before it is signed.
    public static let signatureOffset = 0x2A0
    /// The signature algorithm value for ECDSA P-384 with SHA-384.
    public static let ecdsaP384SHA384: UInt32 = 1
    /// The report versions whose layout this library reads.
    public static let supportedVersions: ClosedRange<UInt32> = 2...5

    /// Whether the guest policy allows a debugger (policy bit 19), in which case its memory is not confidential.
    public var allowsDebug: Bool {
        self.policy & (1 << 19) != 0
    }

    /// Whether the guest policy allows a migration agent (policy bit 18), which can export the guest's state.
    public var allowsMigrationAgent: Bool {
        self.policy & (1 << 18) != 0
    }

    /// Whether the guest policy allows simultaneous multithreading on the host (policy bit 16).
    public var allowsSMT: Bool {
        self.policy & (1 << 16) != 0
    }

    /// Whether the platform had simultaneous multithreading enabled when the report was made (PLATFORM_INFO bit 0).
    public var platformSMTEnabled: Bool {
        self.platformInfo & 1 != 0
    }

    /// Whether CHIP_ID is masked (signing flags bit 1): the report then carries zeros instead of the chip's ID.
    public var chipIDMasked: Bool {
        self.signingFlags & 0b10 != 0
    }

    /// The SIGNING_KEY field (signing flags bits 2-4): 0 for the VCEK, 1 for the VLEK, 7 for no key.
    public var signingKeySelector: UInt32 {
        (self.signingFlags >> 2) & 0b111
    }
}

extension SNPReport {
    /// Parses a 1184-byte SNP attestation report.
    ///
    /// - Throws: ``AttestationError`` when the input has the wrong size, an unknown version or an unknown signature
    ///   algorithm.
    public init(bytes: [UInt8]) throws(AttestationError) {
        guard bytes.count <= Self.size else {
            throw AttestationError(.oversized, "SNP report is \(bytes.count) bytes, expected \(Self.size)")
        }
        var reader = ByteReader(bytes, what: "SNP report")
        self.version = try reader.readUInt32("VERSION")
        self.guestSVN = try reader.readUInt32("GUEST_SVN")
        self.policy = try reader.readUInt64("POLICY")
        self.familyID = try reader.read(16, "FAMILY_ID")
        self.imageID = try reader.read(16, "IMAGE_ID")
        self.vmpl = try reader.readUInt32("VMPL")
        self.signatureAlgorithm = try reader.readUInt32("SIGNATURE_ALGO")
        self.currentTCB = try reader.readUInt64("CURRENT_TCB")
        self.platformInfo = try reader.readUInt64("PLATFORM_INFO")
        self.signingFlags = try reader.readUInt32("signing flags")
        try reader.skip(4, "reserved")
        self.reportData = try reader.read(64, "REPORT_DATA")
        self.measurement = try reader.read(48, "MEASUREMENT")
        self.hostData = try reader.read(32, "HOST_DATA")
        self.idKeyDigest = try reader.read(48, "ID_KEY_DIGEST")
        self.authorKeyDigest = try reader.read(48, "AUTHOR_KEY_DIGEST")
        self.reportID = try reader.read(32, "REPORT_ID")
        self.reportIDMigrationAgent = try reader.read(32, "REPORT_ID_MA")
        self.reportedTCB = try reader.readUInt64("REPORTED_TCB")
        let family = try reader.read(1, "CPUID_FAM_ID").first ?? 0
        let model = try reader.read(1, "CPUID_MOD_ID").first ?? 0
        let stepping = try reader.read(1, "CPUID_STEP").first ?? 0
        let hasCPUID = self.version >= 3
        self.cpuidFamily = hasCPUID ? family : 0
        self.cpuidModel = hasCPUID ? model : 0
        self.cpuidStepping = hasCPUID ? stepping : 0
        try reader.skip(21, "reserved")
        self.chipID = try reader.read(64, "CHIP_ID")
        self.committedTCB = try reader.readUInt64("COMMITTED_TCB")
        self.currentVersion = try reader.read(4, "CURRENT_BUILD/MINOR/MAJOR")
        self.committedVersion = try reader.read(4, "COMMITTED_BUILD/MINOR/MAJOR")
        self.launchTCB = try reader.readUInt64("LAUNCH_TCB")
        try reader.skip(Self.signatureOffset - reader.offset, "reserved")
        self.signedBytes = Array(bytes[0..<reader.offset])
        self.signatureR = try reader.read(72, "signature R")
        self.signatureS = try reader.read(72, "signature S")
        self.signatureReserved = try reader.read(reader.remaining, "signature reserved")
        guard bytes.count == Self.size else {
            throw AttestationError(.truncated, "SNP report is \(bytes.count) bytes, expected \(Self.size)")
        }
        guard Self.supportedVersions.contains(self.version) else {
            throw AttestationError(
                .unsupportedFormat,
                "SNP report version \(self.version) is not one of \(Self.supportedVersions.lowerBound)..."
                    + "\(Self.supportedVersions.upperBound)"
            )
        }
        guard self.signatureAlgorithm == Self.ecdsaP384SHA384 else {
            throw AttestationError(
                .unsupportedFormat,
                "SNP signature algorithm \(self.signatureAlgorithm) is not ECDSA P-384"
            )
        }
    }
}
