import ArgumentParser
import ConfideAttestation
import ConfideMeasurement
import Foundation

/// The command-line flags that make an attestation policy.
struct PolicyOptions: ParsableArguments {
    @Option(name: .customLong("policy"), help: ArgumentHelp(
        "A policy file (JSON, docs/MEASUREMENTS.md): the executables, plugins, models and settings allowed, and "
            + "the evidence measurements accepted (added to the flags below).", valueName: "file"))
    var policyFile: String?

    @Option(help: ArgumentHelp("An accepted TDX MRTD, 48 bytes in hex (repeat for several).", valueName: "hex"))
    var mrtd: [String] = []

    @Option(help: ArgumentHelp(
        "An accepted SEV-SNP or simulated measurement, 48 bytes in hex (repeat for several).", valueName: "hex"))
    var measurement: [String] = []

    @Option(help: ArgumentHelp("The chip's VCEK certificate (DER), to verify SEV-SNP evidence.", valueName: "file"))
    var vcek: String?

    @Flag(help: """
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
        return policy
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

/// Hexadecimal text for the command line.
enum Hex {
    /// Decodes hex digits (whitespace ignored), or throws a validation error naming `what`.
    static func decode(_ text: String, bytes count: Int? = nil, what: String) throws -> [UInt8] {
        let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }.map { Character($0) }
        guard digits.count % 2 == 0 else { throw ValidationError("\(what) has an odd number of hex digits") }
        var bytes: [UInt8] = []
        var index = 0
        while index + 1 < digits.count {
            guard let byte = UInt8(String(digits[index...index + 1]), radix: 16) else {
                throw ValidationError("\(what) is not hexadecimal")
            }
            bytes.append(byte)
            index += 2
        }
        if let count, bytes.count != count {
            throw ValidationError("\(what) is \(bytes.count) bytes, expected \(count)")
        }
        return bytes
    }

    /// Lower-case hex digits.
    static func encode(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
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
