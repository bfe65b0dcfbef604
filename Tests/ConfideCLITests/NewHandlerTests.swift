import ConfideClient
import ConfideHTTPClient
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import NIOHTTP1
import Testing

/// `confide new handler`: the package it writes depends on the SDK by URL and version, and builds, passes its own
/// test and serves without this repository.
@Suite("confide new handler")
struct NewHandlerTests {
    /// The SDK's sources, `sdk/` from the package root.
    static let sdk = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("sdk")

    @Test func refusesBadValuesAndExistingFolders() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        for (arguments, reason) in [
            (["shout"], "upper-case"), (["Sh-out"], "only ASCII letters"), (["Handler"], "already use that name"),
            (["Shout", "--sdk-url", "confide-sdk"], "must start with"),
            (["Shout", "--sdk-url", #"https://example.com/"sdk"#], "characters of a URL"),
            (["Shout", "--sdk-version", "1.3"], "X.Y.Z"),
        ] {
            let refused = try await runProcess(
                ConfideCommand.path, ["new", "handler"] + arguments + ["--path", root.path])
            #expect(refused.status != 0, "\(arguments)")
            #expect(refused.output.contains(reason), "\(arguments): \(refused.output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)

        let created = try await ConfideCommand.run(
            "new", "handler", "Shout", "--path", root.path, "--sdk-url", "file:///srv/git/My-SDK.git",
            "--sdk-version", "2.0.1")
        #expect(created.status == 0, "\(created.output)")
        let package = root.url.appendingPathComponent("Shout")
        let manifest = try String(contentsOf: package.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(manifest.contains(#".package(url: "file:///srv/git/My-SDK.git", from: "2.0.1")"#))
        #expect(manifest.contains(#".product(name: "ConfideTestKit", package: "my-sdk")"#))

        let readme = package.appendingPathComponent("README.md")
        try Data("mine".utf8).write(to: readme)
        let again = try await ConfideCommand.run("new", "handler", "Shout", "--path", root.path)
        #expect(again.status != 0)
        #expect(again.output.contains("already exists"), "\(again.output)")
        #expect(try String(contentsOf: readme, encoding: .utf8) == "mine")
    }

    /// A separate SwiftPM build of the generated package and of the SDK (small: the SDK has no dependencies), fetched
    /// offline from a Git repository that stands in for the published one.
    @Test(.timeLimit(.minutes(30))) func generatedPackageBuildsPassesItsTestAndServes() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let created = try await ConfideCommand.run("new", "handler", "Shout", "--path", root.path)
        try #require(created.status == 0, "\(created.output)")
        let package = root.url.appendingPathComponent("Shout")
        let manifest = try String(contentsOf: package.appendingPathComponent("Package.swift"), encoding: .utf8)
        let dependency = try #require(Self.sdkDependency(in: manifest), "no SDK dependency in \(manifest)")

        // The SDK as it is published: the files of sdk/ at the root of their own repository, tagged with the version.
        let repository = try root.subdirectory("confide-sdk")
        for entry in try FileManager.default.contentsOfDirectory(atPath: Self.sdk.path)
        where ![".build", ".swiftpm", "Package.resolved"].contains(entry) {
            try FileManager.default.copyItem(
                at: Self.sdk.appendingPathComponent(entry), to: repository.appendingPathComponent(entry))
        }
        for arguments in [
            ["init", "-q"], ["add", "-A"],
            [
                "-c", "user.name=Confide", "-c", "user.email=test@confide.invalid",
                "commit", "-q", "-m", "SDK \(dependency.version)",
            ], ["tag", dependency.version],
        ] {
            let git = try await runProcess("/usr/bin/env", ["git", "-C", repository.path] + arguments)
            try #require(git.status == 0, "git \(arguments): \(git.output)")
        }

        let mirror = try await runProcess(
            "/usr/bin/env",
            [
                "swift", "package", "--package-path", package.path, "config", "set-mirror", "--original",
                dependency.url,
                "--mirror", repository.absoluteString,
            ])
        try #require(mirror.status == 0, "\(mirror.output)")
        // Not in the shared dependency cache: the mirror is gone after the test. At the lowest priority: a nested build
        // takes both cores for minutes, and the server tests running beside it have time limits of their own.
        let build = try await runProcess(
            "/usr/bin/env",
            ["nice", "-n", "19", "swift", "build", "--disable-dependency-cache", "--package-path", package.path])
        try #require(build.status == 0, "\(build.output)")
        let test = try await runProcess(
            "/usr/bin/env",
            ["nice", "-n", "19", "swift", "test", "--disable-dependency-cache", "--package-path", package.path])
        #expect(test.status == 0, "\(test.output)")
        #expect(test.output.contains("Test run with 2 tests"), "\(test.output)")

        let plugin = package.appendingPathComponent(".build/debug/libShout.so")
        let model = try String(
            contentsOf: package.appendingPathComponent("models/shout/model.json"), encoding: .utf8)
        let server = try await TestServer.start(plugins: [], models: ["shout": model]) { configuration in
            try FileManager.default.copyItem(
                atPath: plugin.path, toPath: configuration.handlersDirectory + "/libShout.so")
        }
        defer { Task { await server.stop() } }
        let response = try await send(
            server.port, .POST, "/v2/models/shout/infer",
            body: #"{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["hello","world"]}]}"#)
        #expect(response.status == .ok, "\(response.text)")
        #expect(response.text.contains(#""data":["HELLO","WORLD"]"#), "\(response.text)")
    }

    /// The URL and version of the manifest's `.package(url: "...", from: "...")`.
    static func sdkDependency(in manifest: String) -> (url: String, version: String)? {
        let pattern = #/\.package\(url: "([^"]+)", from: "([^"]+)"\)/#
        guard let match = manifest.firstMatch(of: pattern) else { return nil }
        return (String(match.1), String(match.2))
    }
}
