// swift-tools-version: 6.2
import Foundation
import PackageDescription

/// The identity SwiftPM gives the Confide package: the name of the folder it is checked out in.
let confide = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent.lowercased()

/// libFuzzer targets for Confide's parsers of untrusted bytes. Build and run one with:
///
///     cd Tests/Fuzz
///     swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
///     .build/release/FuzzJSON -max_total_time=60
let package = Package(
    name: "ConfideFuzz",
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(name: "FuzzJSON", dependencies: [.product(name: "ConfideJSON", package: confide)]),
        .executableTarget(name: "FuzzInferRequest", dependencies: [.product(name: "ConfideServer", package: confide)]),
    ]
)
