import ConfideSDK
import Foundation

/// The Swift package `confide new handler` writes: a handler that depends on the published SDK by URL and
/// version, its `HandlerTester` test, an example model and a README.
struct HandlerTemplate {
    /// Where the SDK is published: its own repository, whose root is this repository's `sdk/` folder,
    /// tagged with ``SDKRelease/version`` (docs/HANDLERS.md, "How the SDK is published").
    static let defaultSDKURL = "https://github.com/confide-project/confide-sdk.git"

    /// The package's name: also its folder, its handler's type, its library product and its module.
    let name: String
    /// The Git URL of the SDK's repository.
    let sdkURL: String
    /// The lowest SDK release the package accepts, up to the next major.
    let sdkVersion: String

    /// The name models give in their `model.json` (`{"handler": ...}`): the package's name in lower case.
    var handlerName: String { name.lowercased() }

    /// The identity SwiftPM gives the SDK's package: the URL's last path component without `.git`, in lower case.
    var sdkPackage: String {
        var last = sdkURL.split(separator: "/").last.map(String.init) ?? ""
        if last.hasSuffix(".git") { last.removeLast(4) }
        return last.lowercased()
    }

    /// Checks every value before it is written into Swift, JSON or Markdown text.
    init(name: String, sdkURL: String, sdkVersion: String) throws(HandlerTemplateError) {
        self.name = name
        self.sdkURL = sdkURL
        self.sdkVersion = sdkVersion
        try Self.check(name: name)
        try Self.check(sdkURL: sdkURL, package: sdkPackage)
        try Self.check(sdkVersion: sdkVersion)
    }

    /// The files of the package, by path relative to its folder.
    var files: [(path: String, contents: String)] {
        [
            ("Package.swift", packageManifest),
            ("Sources/\(name)/\(name).swift", handlerSource),
            ("Tests/\(name)Tests/\(name)Tests.swift", testSource),
            ("models/\(handlerName)/model.json", modelConfig),
            ("README.md", readme),
            (".gitignore", ".build/\n"),
        ]
    }

    /// Creates the folder `name` inside `parent` (and `parent` if needed) and writes the files into it.
    /// Refuses a folder or file that already exists there, leaving it untouched.
    func write(into parent: URL) throws(HandlerTemplateError) -> URL {
        let folder = parent.appendingPathComponent(name, isDirectory: true)
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(parent.path, error)
        }
        guard !manager.fileExists(atPath: folder.path) else { throw .exists(folder.path) }
        do {
            // Without intermediate folders, creation fails if the folder appeared meanwhile: nothing is overwritten.
            try manager.createDirectory(at: folder, withIntermediateDirectories: false)
        } catch {
            throw manager.fileExists(atPath: folder.path) ? .exists(folder.path) : .cannotWrite(folder.path, error)
        }
        for file in files {
            let url = folder.appendingPathComponent(file.path)
            do {
                try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.contents.utf8).write(to: url, options: .withoutOverwriting)
            } catch {
                throw .cannotWrite(url.path, error)
            }
        }
        return folder
    }

    // MARK: Validation

    /// Names the package cannot take: Swift's own words, the modules it imports and the SDK types its code names.
    static let reservedNames: Set<String> = [
        "Any", "Self", "Type", "Protocol", "Swift", "Foundation", "Glibc", "Musl", "Dispatch", "Testing", "XCTest",
        "PackageDescription", "CConfide", "ConfideSDK", "ConfideHost", "ConfideTensors", "ConfideTestKit", "Handler",
        "HandlerInstance", "HandlerError", "HandlerTester", "Batch", "Request", "Tensor", "TensorSpec", "ModelContext",
        "HostTensor", "HostRequest", "String", "UInt32", "UnsafeRawPointer", "Test",
    ]

    private static let upper = UInt8(ascii: "A")...UInt8(ascii: "Z")
    private static let lower = UInt8(ascii: "a")...UInt8(ascii: "z")
    private static let digits = UInt8(ascii: "0")...UInt8(ascii: "9")

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        upper.contains(byte) || lower.contains(byte) || digits.contains(byte)
    }

    private static func check(name: String) throws(HandlerTemplateError) {
        let ascii = Array(name.utf8)
        guard let first = ascii.first, upper.contains(first) else {
            throw .invalidName(name, "it must start with an upper-case ASCII letter (UpperCamelCase, as Swift types)")
        }
        guard ascii.count <= 64 else { throw .invalidName(name, "it must be at most 64 characters long") }
        guard ascii.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "_") }) else {
            throw .invalidName(name, "it may hold only ASCII letters, digits and _")
        }
        guard !reservedNames.contains(name) else {
            throw .invalidName(name, "Swift, the SDK or the generated code already use that name")
        }
    }

    private static func check(sdkURL: String, package: String) throws(HandlerTemplateError) {
        let schemes = ["https://", "http://", "ssh://", "git://", "file://"]
        guard schemes.contains(where: { sdkURL.hasPrefix($0) }) || sdkURL.hasPrefix("git@") else {
            throw .invalidSDKURL(sdkURL, "it must start with \(schemes.joined(separator: ", ")) or git@")
        }
        let punctuation = Set("-._~:/?#@!$&'()*+,;=%".utf8)
        guard sdkURL.utf8.allSatisfy({ isLetterOrDigit($0) || punctuation.contains($0) }) else {
            throw .invalidSDKURL(sdkURL, "it may hold only the characters of a URL, unescaped")
        }
        let separators = Set("-_.".utf8)
        guard !package.isEmpty, package.utf8.allSatisfy({ isLetterOrDigit($0) || separators.contains($0) }) else {
            throw .invalidSDKURL(sdkURL, "its last path component must name the repository (letters, digits, - _ .)")
        }
    }

    private static func check(sdkVersion: String) throws(HandlerTemplateError) {
        let parts = sdkVersion.split(separator: ".", omittingEmptySubsequences: false)
        let numeric = parts.allSatisfy { part in
            !part.isEmpty && part.count <= 9 && part.utf8.allSatisfy { digits.contains($0) }
        }
        guard parts.count == 3, numeric else {
            throw .invalidSDKVersion(sdkVersion)
        }
    }

    // MARK: Files

    private var packageManifest: String {
        #"""
        // swift-tools-version: 6.2
        import PackageDescription

        let package = Package(
            name: "\#(name)",
            products: [
                // The plugin the server loads: lib\#(name).so.
                .library(name: "\#(name)", type: .dynamic, targets: ["\#(name)"]),
            ],
            dependencies: [
                // The Confide SDK, with no dependencies of its own. Build with the Swift toolchain the server was
                // built with: the server refuses a plugin from another one.
                .package(url: "\#(sdkURL)", from: "\#(sdkVersion)"),
            ],
            targets: [
                .target(name: "\#(name)", dependencies: [.product(name: "ConfideSDK", package: "\#(sdkPackage)")]),
                .testTarget(
                    name: "\#(name)Tests",
                    dependencies: [
                        "\#(name)",
                        .product(name: "ConfideSDK", package: "\#(sdkPackage)"),
                        .product(name: "ConfideHost", package: "\#(sdkPackage)"),
                        .product(name: "ConfideTensors", package: "\#(sdkPackage)"),
                        .product(name: "ConfideTestKit", package: "\#(sdkPackage)"),
                    ]
                ),
            ]
        )

        """#
    }

    private var handlerSource: String {
        #"""
        import ConfideSDK

        /// Answers each request with the texts of its BYTES input `text` in upper case, as the BYTES output `text`
        /// of the same shape.
        struct \#(name): Handler, HandlerInstance {
            static let name = "\#(handlerName)"  // what model.json names: {"handler": "\#(handlerName)"}
            static let version = "0.1.0"
            static let description = "Returns each text of the input text in upper case"

            /// Loads one model version, once; its workers share the value.
            init(model: ModelContext) {
                model.log.info("ready")
            }

            // Reported as model metadata (GET /v2/models/{model}); -1 is a dimension of any size.
            var inputs: [TensorSpec] { [TensorSpec(name: "text", dataType: .bytes, shape: [-1])] }
            var outputs: [TensorSpec] { [TensorSpec(name: "text", dataType: .bytes, shape: [-1])] }

            /// Called on a worker's thread, one batch at a time.
            func execute(_ batch: Batch) {
                batch.forEachRequest { request in  // a request that throws fails alone
                    let text = try request.input("text")
                    guard text.dataType == .bytes else {
                        throw HandlerError.invalidArgument("text must be BYTES, not \(text.dataType)")
                    }
                    try request.respond("text", strings: text.strings().map { $0.uppercased() }, shape: text.shape)
                }
            }
        }

        /// The plugin's one exported symbol: the server passes its ABI version and gets the handler's descriptor.
        @c(confide_plugin_entry)
        public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? {
            \#(name).export(major, minor)
        }

        """#
    }

    private var testSource: String {
        #"""
        import ConfideHost
        import ConfideSDK
        import ConfideTensors
        import ConfideTestKit
        import Testing

        @testable import \#(name)

        // HandlerTester loads the handler through the plugin ABI and the host code the server uses, without a server.

        @Test func uppercasesEveryText() throws {
            let tester = try HandlerTester(\#(name).self)
            let text = try #require(HostTensor(name: "text", strings: ["hello", "grüße"], shape: [2]))
            #expect(try tester.infer([text])["text"]?.strings() == ["HELLO", "GRÜSSE"])
        }

        @Test func failsOnlyTheRequestWithoutText() throws {
            let tester = try HandlerTester(\#(name).self)
            let text = try #require(HostTensor(name: "text", strings: ["a"]))
            let results = tester.execute([HostRequest(inputs: []), HostRequest(inputs: [text])])
            #expect(throws: HandlerError.self) { try results[0].get() }
            #expect(try results[1].get().outputs.first?.strings() == ["A"])
        }

        """#
    }

    private var modelConfig: String {
        #"""
        {"handler": "\#(handlerName)", "max_batch_size": 8, "workers": 1}

        """#
    }

    private var readme: String {
        #"""
        # \#(name)

        A Confide handler: `\#(handlerName)` returns the texts of its BYTES input `text` in upper case.
        `models/\#(handlerName)/model.json` is a model that serves it.

        ```sh
        swift build -c release                                    # the plugin: .build/release/lib\#(name).so
        swift test                                                # runs the handler through the plugin ABI
        confide serve --handlers .build/release --models models   # serves the model on 127.0.0.1:8080
        ```

        Build with the Swift toolchain `confide` was built with: the server refuses a plugin built by another one
        (`confide handlers --handlers .build/release` says whether it loads, or why not). Then:

        ```sh
        curl -s localhost:8080/v2/models/\#(handlerName)/infer \
          -d '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hello"]}]}'
        ```

        """#
    }
}

/// Why `confide new handler` wrote nothing.
enum HandlerTemplateError: Error, CustomStringConvertible {
    case invalidName(String, String)
    case invalidSDKURL(String, String)
    case invalidSDKVersion(String)
    case exists(String)
    case cannotWrite(String, any Error)

    var description: String {
        switch self {
        case .invalidName(let name, let reason): "'\(name)' cannot name a handler package: \(reason)."
        case .invalidSDKURL(let url, let reason): "'\(url)' cannot be the SDK's URL: \(reason)."
        case .invalidSDKVersion(let version): "'\(version)' is not an SDK version: it must be X.Y.Z, e.g. 2.0.0."
        case .exists(let path): "\(path) already exists; choose another name or --path (nothing was written)."
        case .cannotWrite(let path, let error): "cannot write \(path): \(error)"
        }
    }
}
