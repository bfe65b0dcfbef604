import ArgumentParser
import ConfideAttestation
import ConfideJSON
import ConfideMeasurement
import Foundation

/// The command-line flags that make an attestation policy.
struct PolicyOptions: ParsableArguments {
    @Option(
        name: .customLong("policy"),
        help: ArgumentHelp(
            "A policy file (JSON, docs/MEASUREMENTS.md): the executables, plugins, models and settings allowed, and "
                + "the evidence measurements accepted (added to the flags below).", valueName: "file"))
    var policyFile: String?

    @Option(help: ArgumentHelp("An accepted TDX MRTD, 48 bytes in hex (repeat for several).", valueName: "hex"))
    var mrtd: [String] = []

    @Option(
        help: ArgumentHelp(
            "An accepted SEV-SNP or simulated measurement, 48 bytes in hex (repeat for several).", valueName: "hex"))
    var measurement: [String] = []

    @Option(
        help: ArgumentHelp(
            "The SEV-SNP VCEK or VLEK, optionally with its ASK and ARK (PEM or DER), used instead of the server's.",
            valueName: "file"))
    var vcek: String?

    @OptionGroup(title: "Guest policy")
    var guest: GuestPolicyOptions

    @Flag(
        help: """
            Accept simulated evidence, which proves nothing (development only). Without --measurement, the default \
            simulated measurement is accepted.
            """)
    var acceptSimulated = false

    @OptionGroup(title: "TDX collateral")
    var collateral: CollateralOptions

    /// The policy these flags describe; its expected report data is set by the client for each attestation.
    func policy() throws -> AttestationPolicy {
        var policy = AttestationPolicy(expectedReportData: [])
        let file = try policyFile.map(Self.readPolicy)
        policy.measurements = file
        let mrTDs = try mrtd.map { try Hex.decode($0, bytes: 48, what: "--mrtd") } + (file?.mrTDs ?? [])
        policy.allowedTDX = mrTDs.map { TDXReferenceValues(mrTD: $0) }
        let measurements =
            try measurement.map { try Hex.decode($0, bytes: 48, what: "--measurement") } + (file?.measurements ?? [])
        policy.allowedSNPMeasurements = Set(measurements)
        policy.acceptSimulated = acceptSimulated || file?.acceptSimulated == true
        policy.allowedSimulatedMeasurements =
            measurements.isEmpty ? [SimulatedEvidenceProvider.defaultMeasurement] : Set(measurements)
        if let vcek {
            guard let data = FileManager.default.contents(atPath: vcek) else {
                throw ValidationError("cannot read the VCEK certificate \(vcek)")
            }
            policy.snpVCEK = Array(data)
        }
        try collateral.apply(to: &policy)
        return try guest.apply(to: policy)
    }

    private static func readPolicy(_ path: String) throws -> MeasurementPolicy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the policy file \(path)")
        }
        do {
            return try MeasurementPolicy(json: Array(data))
        } catch {
            throw ValidationError("the policy file \(path): \(error.message)")
        }
    }
}

/// The command-line flags of the guest checks (SEV-SNP VMPL, migration agent, SMT; debug).
struct GuestPolicyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The VMPL SEV-SNP reports must have been requested at.", valueName: "level"))
    var vmpl: UInt32 = 0

    @Flag(help: "Accept an SEV-SNP guest whose policy allows a migration agent.")
    var acceptMigrationAgent = false

    @Flag(help: "Refuse an SEV-SNP guest that may share cores through SMT (its policy allows it, or the host runs it).")
    var refuseSMT = false

    @Option(
        help: ArgumentHelp(
            "The lowest SEV-SNP TCB accepted, e.g. bootloader=3,tee=0,snp=8,microcode=115 (and fmc= on Turin).",
            valueName: "levels"))
    var snpMinimumTCB: String?

    @Flag(help: "Accept evidence from a debuggable guest, whose memory the host can read.")
    var acceptDebug = false

    /// `policy` (or an empty one) with these flags applied.
    func apply(to policy: AttestationPolicy?) throws -> AttestationPolicy {
        var policy = policy ?? AttestationPolicy(expectedReportData: [])
        policy.snpVMPL = vmpl
        policy.acceptSNPMigrationAgent = acceptMigrationAgent
        policy.acceptSNPSMT = !refuseSMT
        policy.acceptDebug = policy.acceptDebug || acceptDebug
        if let snpMinimumTCB {
            policy.snpMinimumTCB = try Self.minimumTCB(snpMinimumTCB)
        }
        return policy
    }

    /// Parses `name=level` pairs separated by commas.
    private static func minimumTCB(_ text: String) throws -> SNPMinimumTCB {
        var minimum = SNPMinimumTCB()
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let level = UInt8(parts[1]) else {
                throw ValidationError("--snp-minimum-tcb: \"\(pair)\" is not name=level with a level from 0 to 255")
            }
            switch parts[0].lowercased() {
            case "bootloader": minimum.bootloader = level
            case "tee": minimum.tee = level
            case "snp": minimum.snp = level
            case "microcode": minimum.microcode = level
            case "fmc": minimum.fmc = level
            default:
                throw ValidationError(
                    "--snp-minimum-tcb: \"\(parts[0])\" is not bootloader, tee, snp, microcode or fmc")
            }
        }
        return minimum
    }
}

/// Hexadecimal text for the command line.
extension Hex {
    /// Decodes hex digits (whitespace ignored), or throws a validation error naming `what`.
    static func decode(_ text: String, bytes count: Int? = nil, what: String) throws -> [UInt8] {
        let digits = text.utf8.filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        guard digits.count % 2 == 0 else { throw ValidationError("\(what) has an odd number of hex digits") }
        guard let bytes = Hex.decode(utf8: digits) else { throw ValidationError("\(what) is not hexadecimal") }
        if let count, bytes.count != count {
            throw ValidationError("\(what) is \(bytes.count) bytes, expected \(count)")
        }
        return bytes
    }
}

/// A server's `http://host:port` URL.
struct ServerAddress {
    let host: String
    let port: Int

    init(_ url: String) throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host
        else {
            throw ValidationError("the URL must look like http://host:port")
        }
        self.host = host
        self.port = components.port ?? 80
    }
}
