// swift-tools-version: 6.2
import Foundation
import PackageDescription

/// The identity SwiftPM gives the Confide package: the name of the folder it is checked out in.
let confide = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent.lowercased()

/// A fuzz target: an executable feeding libFuzzer's inputs to one parser of untrusted bytes.
func fuzzTarget(_ name: String, _ module: String) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzDriver", .product(name: module, package: confide)])
}

/// libFuzzer targets for Confide's parsers of untrusted bytes (`scripts/fuzz` builds and runs them all):
///
///     cd Tests/Fuzz
///     swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld
///     .build/release/FuzzJSON -max_total_time=60
let package = Package(
    name: "ConfideFuzz",
    dependencies: [.package(path: "../..")],
    targets: [
        .target(name: "FuzzDriver"),
        fuzzTarget("FuzzJSON", "ConfideJSON"),
        fuzzTarget("FuzzInferRequest", "ConfideServer"),
        fuzzTarget("FuzzEmbeddingsRequest", "ConfideServer"),
        fuzzTarget("FuzzTaskRequest", "ConfideServer"),
        fuzzTarget("FuzzInferResponse", "ConfideKServe"),
        fuzzTarget("FuzzGRPCInferRequest", "ConfideKServeGRPC"),
        fuzzTarget("FuzzAttestationQuery", "ConfideServer"),
        fuzzTarget("FuzzCoCoEvidence", "ConfideServer"),
        fuzzTarget("FuzzRouter", "ConfideServer"),
        fuzzTarget("FuzzManagementQuery", "ConfideServer"),
        fuzzTarget("FuzzModelArchive", "ConfideServer"),
        fuzzTarget("FuzzBinaryHTTP", "ConfideEnvelope"),
        fuzzTarget("FuzzOHTTPRequest", "ConfideEnvelope"),
        fuzzTarget("FuzzKeyConfigs", "ConfideEnvelope"),
        fuzzTarget("FuzzTDXQuote", "ConfideAttestation"),
        fuzzTarget("FuzzTDXCollateral", "ConfideAttestation"),
        fuzzTarget("FuzzSNPReport", "ConfideAttestation"),
        fuzzTarget("FuzzSNPCertificates", "ConfideAttestation"),
        fuzzTarget("FuzzEvidenceInput", "ConfideAttestation"),
        fuzzTarget("FuzzSimulatedEvidence", "ConfideAttestation"),
        fuzzTarget("FuzzMeasurementLog", "ConfideMeasurement"),
        fuzzTarget("FuzzMeasurementPolicy", "ConfideMeasurement"),
        fuzzTarget("FuzzSafeTensors", "BertModel"),
        fuzzTarget("FuzzBertTokenizer", "BertModel"),
        fuzzTarget("FuzzBertConfig", "BertModel"),
    ]
)
