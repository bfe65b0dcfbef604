public import ConfideAttestation
public import ConfideClient
import ConfideHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The shared test data folder, `../shared/testdata/attestation/` from the package root.
public enum AttestationSamples {
    /// The folder.
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/testdata/attestation")

    /// Whether the folder is there.
    public static var available: Bool { FileManager.default.fileExists(atPath: folder.path) }

    /// The path of the sample `name`.
    public static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
}

/// A policy that accepts the default simulated evidence.
public func simulatedPolicy() -> AttestationPolicy {
    var policy = AttestationPolicy(expectedReportData: [])
    policy.acceptSimulated = true
    policy.allowedSimulatedMeasurements = [SimulatedEvidenceProvider.defaultMeasurement]
    return policy
}

/// Fetches `/attestation` for `nonce` and parses the answer.
public func fetchAttestation(_ port: Int, nonce: [UInt8]) async throws -> AttestationDocument {
    let hex = nonce.map { String(format: "%02x", $0) }.joined()
    let response = try await send(port, .GET, "/attestation?nonce=\(hex)")
    #expect(response.status == .ok, "\(response.text)")
    #expect(response.headers.first(name: "Content-Type") == "application/json")
    return try AttestationDocument(json: Array(response.body.readableBytesView))
}
