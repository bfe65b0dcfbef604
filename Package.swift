// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let cABI: Target.Dependency = .product(name: "CConfide", package: "sdk")

/// Kernels are optimised even in debug builds, so `swift test` runs them at full speed; symbols stay
/// hidden except each plugin's entry point.
let kernelCSettings: [CSetting] = [.unsafeFlags(["-O3", "-fvisibility=hidden"])]

let package = Package(
    name: "Confide",
    products: [
        .executable(name: "confide", targets: ["ConfideCLI"]),
        .library(name: "ConfideClient", targets: ["ConfideClient"]),
        .library(name: "ConfideHTTPClient", targets: ["ConfideHTTPClient"]),
        .library(name: "ConfideServer", targets: ["ConfideServer"]),
        .library(name: "ConfideJSON", targets: ["ConfideJSON"]),
        .library(name: "ConfideKServe", targets: ["ConfideKServe"]),
        .library(name: "ConfideKServeGRPC", targets: ["ConfideKServeGRPC"]),
        .library(name: "ConfideEnvelope", targets: ["ConfideEnvelope"]),
        .library(name: "ConfideAttestation", targets: ["ConfideAttestation"]),
        .library(name: "ConfideMeasurement", targets: ["ConfideMeasurement"]),
        .library(name: "BertModel", targets: ["BertModel"]),
        .plugin(name: "InstallHandlers", targets: ["InstallHandlers"]),
        // Handlers shipped with Confide: each a plugin loaded with dlopen from handlers/.
        .library(name: "Echo", type: .dynamic, targets: ["Echo"]),
        .library(name: "Bert", type: .dynamic, targets: ["Bert"]),
        // Kernel plugins shipped with Confide: the runtime picks the best one the CPU supports.
        .library(name: "KernelsPortable", type: .dynamic, targets: ["KernelsPortable"]),
        .library(name: "KernelsAVX2", type: .dynamic, targets: ["KernelsAVX2"]),
        .library(name: "KernelsAVX512", type: .dynamic, targets: ["KernelsAVX512"]),
        .library(name: "KernelsAMX", type: .dynamic, targets: ["KernelsAMX"]),
        // Plugins that misbehave on purpose, for the loader's tests.
        .library(name: "FixtureFailingLoad", type: .dynamic, targets: ["FixtureFailingLoad"]),
        .library(name: "FixtureSlow", type: .dynamic, targets: ["FixtureSlow"]),
        .library(name: "FixtureBadMajor", type: .dynamic, targets: ["FixtureBadMajor"]),
        .library(name: "FixtureNewerMinor", type: .dynamic, targets: ["FixtureNewerMinor"]),
        .library(name: "FixtureWrongCompiler", type: .dynamic, targets: ["FixtureWrongCompiler"]),
        .library(name: "FixtureBadKernelMajor", type: .dynamic, targets: ["FixtureBadKernelMajor"]),
        .library(name: "FixtureNoEntry", type: .dynamic, targets: ["FixtureNoEntry"]),
        .library(name: "FixtureEmbeddings", type: .dynamic, targets: ["FixtureEmbeddings"]),
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
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // MARK: Runtime
        .target(name: "ConfideJSON", swiftSettings: swiftSettings),
        .target(
            name: "ConfideMeasurement",
            dependencies: ["ConfideJSON", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(name: "CCPUFeatures", cSettings: [.unsafeFlags(["-O3"])]),
        .target(
            name: "CConfideSystem",
            linkerSettings: [.linkedLibrary("numa")]
        ),
        .target(
            name: "ConfideRuntime",
            dependencies: [
                "ConfideJSON", "ConfideMeasurement", "CConfideSystem", "CCPUFeatures", cABI,
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideKServe",
            dependencies: [
                "ConfideJSON",
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The KServe v2 gRPC protocol: messages and service code generated from its .proto by scripts/generate-grpc.
        .target(
            name: "ConfideKServeGRPC",
            dependencies: [
                "ConfideKServe",
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["grpc_predict_v2.proto"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideServer",
            dependencies: [
                "ConfideRuntime", "CConfideSystem", "ConfideJSON", "ConfideKServe", "ConfideHTTPClient",
                "ConfideEnvelope", "ConfideAttestation", "ConfideKServeGRPC",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // One HTTP/1.1 client connection, for the client library and the server's own outbound calls.
        .target(
            name: "ConfideHTTPClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideClient",
            dependencies: [
                "ConfideJSON", "ConfideKServe", "ConfideEnvelope", "ConfideAttestation", "ConfideHTTPClient",
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConfideCLI",
            dependencies: [
                "ConfideRuntime", "ConfideServer", "ConfideClient", "ConfideJSON", "ConfideKServe", "CCPUFeatures",
                cABI,
                "ConfideEnvelope", "ConfideHTTPClient",
                "ConfideAttestation",
                "ConfideKServeGRPC",
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
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
                "ConfideMeasurement", "ConfideJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
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

        // MARK: Kernel plugins shipped with Confide
        .target(name: "KernelsCore", dependencies: [cABI], path: "handlers/KernelsCore", cSettings: kernelCSettings),
        .target(
            name: "KernelsX86", dependencies: ["KernelsCore"], path: "handlers/KernelsX86", cSettings: kernelCSettings),
        .target(
            name: "KernelsPortable", dependencies: ["KernelsCore"], path: "handlers/KernelsPortable",
            cSettings: kernelCSettings),
        .target(
            name: "KernelsAVX2", dependencies: ["KernelsCore"], path: "handlers/KernelsAVX2", cSettings: kernelCSettings
        ),
        .target(
            name: "KernelsAVX512", dependencies: ["KernelsX86"], path: "handlers/KernelsAVX512",
            cSettings: kernelCSettings),
        .target(
            name: "KernelsAMX", dependencies: ["KernelsX86"], path: "handlers/KernelsAMX", cSettings: kernelCSettings),

        // MARK: The BERT handler's model code (tokenizer, safetensors, config)
        .target(
            name: "BertModel",
            dependencies: ["ConfideJSON", .product(name: "ConfideSDK", package: "sdk")],
            path: "handlers/Bert/Model",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Bert",
            dependencies: ["BertModel", "ConfideJSON", .product(name: "ConfideSDK", package: "sdk")],
            path: "handlers/Bert/Plugin",
            swiftSettings: swiftSettings
        ),

        // MARK: Tooling
        .plugin(
            name: "InstallHandlers",
            capability: .command(
                intent: .custom(
                    verb: "install-handlers", description: "Build the handler plugins and copy them into handlers/"),
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
        .target(
            name: "FixtureNewerMinor", dependencies: [cABI], path: "Tests/Fixtures/NewerMinor", publicHeadersPath: "."),
        .target(
            name: "FixtureWrongCompiler", dependencies: [cABI], path: "Tests/Fixtures/WrongCompiler",
            publicHeadersPath: "."),
        .target(
            name: "FixtureBadKernelMajor", dependencies: [cABI], path: "Tests/Fixtures/BadKernelMajor",
            publicHeadersPath: "."),
        .target(name: "FixtureNoEntry", path: "Tests/Fixtures/NoEntry", publicHeadersPath: "."),
        .target(
            name: "FixtureEmbeddings",
            dependencies: ["ConfideJSON", .product(name: "ConfideSDK", package: "sdk")],
            path: "Tests/Fixtures/Embeddings",
            swiftSettings: swiftSettings
        ),
        // Temporary folders, built plugin products, handler folders, model stores and sample tensors, for every test
        // target.
        .target(
            name: "ConfideTestSupport",
            dependencies: [
                .product(name: "ConfideTensors", package: "sdk"), .product(name: "ConfideSDK", package: "sdk"),
            ],
            path: "Tests/Support/ConfideTestSupport",
            swiftSettings: swiftSettings
        ),
        // A real server on loopback (`TestServer`), the built `confide` executable and the attestation samples, for the
        // test targets that run them: the server's, the client library's and the command line's.
        .target(
            name: "ConfideServerTestSupport",
            dependencies: [
                "ConfideServer", "ConfideClient", "ConfideHTTPClient", "ConfideAttestation", "ConfideTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/Support/ConfideServerTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ConfideJSONTests", dependencies: ["ConfideJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ConfideRuntimeTests",
            dependencies: [
                "ConfideRuntime", "ConfideJSON", "ConfideTestSupport", cABI,
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
            ],
            swiftSettings: swiftSettings
        ),
        // The server end to end, on loopback: its APIs, driven by raw HTTP, gRPC, the client library, the command line
        // and clients nobody here wrote.
        .testTarget(
            name: "ConfideServerTests",
            dependencies: [
                "ConfideRuntime", "ConfideServer", "ConfideClient", "ConfideJSON", "ConfideKServe", "ConfideEnvelope",
                "ConfideAttestation", "ConfideMeasurement", "MiniLMCache", "ConfideKServeGRPC", "ConfideHTTPClient",
                "ConfideTestSupport", "ConfideServerTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "ConfideTestKit", package: "sdk"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The KServe v2 codec alone: requests and responses, JSON and binary tensors, limits; no server.
        .testTarget(
            name: "ConfideKServeTests",
            dependencies: [
                "ConfideKServe", "ConfideJSON", "ConfideTestSupport",
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The client library (`KServeClient`, `ObliviousClient`, `LoadGenerator`) and its HTTP connection, against a
        // real server on loopback.
        .testTarget(
            name: "ConfideClientTests",
            dependencies: [
                "ConfideClient", "ConfideHTTPClient", "ConfideServer", "ConfideAttestation", "ConfideEnvelope",
                "ConfideMeasurement", "ConfideServerTestSupport",
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The `confide` command line, run as the executable the build produces, against a real server where a command
        // needs one.
        .testTarget(
            name: "ConfideCLITests",
            dependencies: [
                "ConfideRuntime", "ConfideServer", "ConfideClient", "ConfideHTTPClient", "ConfideEnvelope",
                "ConfideTestSupport", "ConfideServerTestSupport",
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideAttestationTests",
            dependencies: [
                "ConfideAttestation", "ConfideMeasurement",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideEnvelopeTests", dependencies: ["ConfideEnvelope", "ConfideTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ConfideKernelTests",
            dependencies: [
                "ConfideRuntime", cABI,
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
            ],
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"])]
        ),
        // Where the tests that run the real all-MiniLM-L6-v2 find it and its reference embeddings.
        .target(name: "MiniLMCache", path: "Tests/Support/MiniLMCache", swiftSettings: swiftSettings),
        .testTarget(
            name: "BertModelTests", dependencies: ["BertModel", "ConfideJSON", "MiniLMCache"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BertHandlerTests",
            dependencies: [
                "BertModel", "ConfideRuntime", "ConfideJSON", "MiniLMCache",
                .product(name: "ConfideHost", package: "sdk"),
                .product(name: "ConfideTensors", package: "sdk"),
                .product(name: "ConfideSDK", package: "sdk"),
                .product(name: "ConfideTestKit", package: "sdk"),
            ],
            swiftSettings: swiftSettings
        ),
        // The deployment files under deploy/, checked against the server and the command line they deploy.
        .testTarget(
            name: "DeployTests",
            dependencies: [
                "ConfideCLI", "ConfideServer", "ConfideClient", "ConfideHTTPClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
