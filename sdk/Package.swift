// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The Confide SDK: everything a handler or kernel author needs, with no dependencies.
let package = Package(
    name: "ConfideSDK",
    products: [
        /// The stable C ABI header shared by the runtime and every plugin.
        .library(name: "CConfide", targets: ["CConfide"]),
        /// Write a handler as an ordinary Swift type and export it through the C ABI.
        .library(name: "ConfideSDK", targets: ["ConfideSDK"]),
        /// Tensors as the host holds them: aligned, owned memory with a name, type and shape. Used by the host, the
        /// test kit and the KServe codec shared by the server and the client.
        .library(name: "ConfideTensors", targets: ["ConfideTensors"]),
        /// The host side of the ABI: open a plugin, negotiate, call it. Used by the runtime and the test kit.
        .library(name: "ConfideHost", targets: ["ConfideHost"]),
        /// Exercise a handler through the real ABI without a server.
        .library(name: "ConfideTestKit", targets: ["ConfideTestKit"]),
    ],
    targets: [
        .target(name: "CConfide"),
        .target(name: "ConfideSDK", dependencies: ["CConfide"], swiftSettings: swiftSettings),
        .target(name: "ConfideTensors", dependencies: ["ConfideSDK"], swiftSettings: swiftSettings),
        .target(
            name: "ConfideHost", dependencies: ["CConfide", "ConfideSDK", "ConfideTensors"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideTestKit", dependencies: ["ConfideHost", "ConfideSDK", "ConfideTensors"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideSDKTests",
            dependencies: ["ConfideTestKit", "ConfideSDK", "ConfideHost", "ConfideTensors"],
            swiftSettings: swiftSettings
        ),
    ]
)
