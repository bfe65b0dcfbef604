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
        /// The host side of the ABI: open a plugin, negotiate, call it. Used by the runtime and the test kit.
        .library(name: "ConfideHost", targets: ["ConfideHost"]),
        /// Exercise a handler through the real ABI without a server.
        .library(name: "ConfideTestKit", targets: ["ConfideTestKit"]),
    ],
    targets: [
        .target(name: "CConfide"),
        .target(name: "ConfideSDK", dependencies: ["CConfide"], swiftSettings: swiftSettings),
        .target(name: "ConfideHost", dependencies: ["CConfide", "ConfideSDK"], swiftSettings: swiftSettings),
        .target(name: "ConfideTestKit", dependencies: ["ConfideHost", "ConfideSDK"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ConfideSDKTests",
            dependencies: ["ConfideTestKit", "ConfideSDK", "ConfideHost"],
            swiftSettings: swiftSettings
        ),
    ]
)
