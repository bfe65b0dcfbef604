// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let cABI: Target.Dependency = .product(name: "CConfide", package: "sdk")

let package = Package(
    name: "Confide",
    products: [
        .executable(name: "confide", targets: ["ConfideCLI"]),
        .library(name: "ConfideClient", targets: ["ConfideClient"]),
        .library(name: "ConfideServer", targets: ["ConfideServer"]),
        .library(name: "ConfideJSON", targets: ["ConfideJSON"]),
        .library(name: "ConfideEnvelope", targets: ["ConfideEnvelope"]),
        .library(name: "ConfideAttestation", targets: ["ConfideAttestation"]),
        .library(name: "BertModel", targets: ["BertModel"]),
        .plugin(name: "InstallHandlers", targets: ["InstallHandlers"]),
        // Handlers shipped with Confide: each a plugin loaded with dlopen from handlers/.
        .library(name: "Echo", type: .dynamic, targets: ["Echo"]),
        // Plugins that misbehave on purpose, for the loader's tests.
        .library(name: "FixtureFailingLoad", type: .dynamic, targets: ["FixtureFailingLoad"]),
        .library(name: "FixtureSlow", type: .dynamic, targets: ["FixtureSlow"]),
        .library(name: "FixtureBadMajor", type: .dynamic, targets: ["FixtureBadMajor"]),
        .library(name: "FixtureNewerMinor", type: .dynamic, targets: ["FixtureNewerMinor"]),
        .library(name: "FixtureWrongCompiler", type: .dynamic, targets: ["FixtureWrongCompiler"]),
        .library(name: "FixtureNoEntry", type: .dynamic, targets: ["FixtureNoEntry"]),
    ],
    dependencies: [
        .package(path: "sdk"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // MARK: Runtime
        .target(name: "ConfideJSON", swiftSettings: swiftSettings),
        .target(
            name: "CConfideSystem",
            linkerSettings: [.linkedLibrary("numa")]
        ),
        .target(
            name: "ConfideRuntime",
            dependencies: [
                "ConfideJSON", "CConfideSystem",
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideServer",
            dependencies: [
                "ConfideRuntime", "ConfideJSON",
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideClient",
            dependencies: [
                "ConfideJSON",
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConfideCLI",
            dependencies: [
                "ConfideRuntime", "ConfideServer", "ConfideClient", "ConfideJSON",
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Envelope
        .target(
            name: "ConfideEnvelope",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // MARK: Attestation
        .target(
            name: "ConfideAttestation",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Handlers shipped with Confide
        .target(
            name: "Echo",
            dependencies: [.product(name: "ConfideSDK", package: "sdk")],
            path: "handlers/Echo",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "BertModel",
            dependencies: ["ConfideJSON"],
            path: "handlers/Bert/Model",
            swiftSettings: swiftSettings
        ),

        // MARK: Tooling
        .plugin(
            name: "InstallHandlers",
            capability: .command(
                intent: .custom(verb: "install-handlers", description: "Build the handler plugins and copy them into handlers/"),
                permissions: [.writeToPackageDirectory(reason: "copies the built plugins into handlers/")]
            ),
            path: "Plugins/InstallHandlers"
        ),

        // MARK: Tests
        .target(
            name: "FixtureFailingLoad",
            dependencies: [.product(name: "ConfideSDK", package: "sdk")],
            path: "Tests/Fixtures/FailingLoad",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FixtureSlow",
            dependencies: ["ConfideJSON", .product(name: "ConfideSDK", package: "sdk")],
            path: "Tests/Fixtures/Slow",
            swiftSettings: swiftSettings
        ),
        .target(name: "FixtureBadMajor", dependencies: [cABI], path: "Tests/Fixtures/BadMajor", publicHeadersPath: "."),
        .target(name: "FixtureNewerMinor", dependencies: [cABI], path: "Tests/Fixtures/NewerMinor", publicHeadersPath: "."),
        .target(
            name: "FixtureWrongCompiler", dependencies: [cABI], path: "Tests/Fixtures/WrongCompiler", publicHeadersPath: "."),
        .target(name: "FixtureNoEntry", path: "Tests/Fixtures/NoEntry", publicHeadersPath: "."),
        .testTarget(
            name: "ConfideTests",
            dependencies: [
                "ConfideRuntime", "ConfideServer", "ConfideClient", "ConfideJSON",
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "ConfideTestKit", package: "sdk"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideAttestationTests",
            dependencies: [
                "ConfideAttestation",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ConfideEnvelopeTests", dependencies: ["ConfideEnvelope"], swiftSettings: swiftSettings),
        .testTarget(name: "BertModelTests", dependencies: ["BertModel", "ConfideJSON"], swiftSettings: swiftSettings),
    ]
)
