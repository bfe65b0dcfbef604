import ConfideRuntime
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import Testing

@Suite("The confide archive command")
struct ArchiveCommandLineTests {
    /// `archive create` names the model after the output file unless `--model` says otherwise, and the store serves
    /// the archive only under that name.
    @Test func createNamesTheModelInTheHeader() async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let source = try root.subdirectory("source")
        let store = try root.subdirectory("store")
        try Data(archiveFiles["model.json"] ?? []).write(to: source.appendingPathComponent("model.json"))
        let keyFile = root.url.appendingPathComponent("model.key").path
        #expect(try await ConfideCommand.run("archive", "keygen", keyFile).status == 0)

        let prod = store.appendingPathComponent("prod.cfa").path
        let created = try await ConfideCommand.run(
            "archive", "create", source.path, "--output", prod, "--key-file", keyFile, "--key-name", "default/keys/m")
        #expect(created.status == 0, "\(created.output)")
        #expect(created.output.contains("model 'prod' version 1"))
        let header = try ModelArchive.header(of: Array(try Data(contentsOf: URL(fileURLWithPath: prod))))
        #expect(header == ModelArchive.Header(model: "prod", version: "1", keyName: try KeyName("default/keys/m")))

        let build = root.url.appendingPathComponent("debug-build-7.cfa").path
        let renamed = try await ConfideCommand.run(
            "archive", "create", source.path, "--output", build, "--model", "debug")
        #expect(renamed.status == 0, "\(renamed.output)")
        #expect(renamed.output.contains("serve it as debug.cfa"))
        #expect(try ModelArchive.header(of: Array(try Data(contentsOf: URL(fileURLWithPath: build)))).model == "debug")
        try FileManager.default.copyItem(atPath: build, toPath: store.appendingPathComponent("debug.cfa").path)
        try FileManager.default.copyItem(atPath: build, toPath: store.appendingPathComponent("other.cfa").path)
        #expect(try ModelStore(path: store.path).load(name: "debug").name == "debug")
        let misplaced = #expect(throws: ModelStoreError.self) { try ModelStore(path: store.path).load(name: "other") }
        #expect(misplaced?.message.contains("belongs to model 'debug', not 'other'") == true)
    }

    @Test(arguments: ["../keys/m", "a/b?c", "a b", "a/b/c/d", "a//b"])
    func createRefusesABadKeyName(keyName: String) async throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let source = try root.subdirectory("source")
        try Data(archiveFiles["model.json"] ?? []).write(to: source.appendingPathComponent("model.json"))
        let keyFile = root.url.appendingPathComponent("model.key").path
        try Data(String(repeating: "ab", count: 32).utf8).write(to: URL(fileURLWithPath: keyFile))
        let output = root.url.appendingPathComponent("m.cfa").path
        let refused = try await ConfideCommand.run(
            "archive", "create", source.path, "--output", output, "--key-file", keyFile, "--key-name", keyName)
        #expect(refused.status != 0)
        #expect(refused.output.contains("key name"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
