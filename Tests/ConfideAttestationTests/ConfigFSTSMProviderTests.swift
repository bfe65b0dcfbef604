import ConfideAttestation
import Foundation
import Testing

/// The configfs-tsm provider against a fake `/sys/kernel/config/tsm/report` tree in a temporary directory.
struct ConfigFSTSMProviderTests {
    /// A fake configfs-tsm root holding one entry, removed when the test ends.
    final class FakeTree: Sendable {
        let root: String
        let entry = "confide-test"

        init(
            provider: String = "tdx_guest",
            generation: UInt64 = 3,
            outblob: [UInt8] = Array(repeating: 0xAB, count: 300)
        )
            throws
        {
            self.root =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("confide-tsm-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(
                atPath: self.root + "/" + self.entry,
                withIntermediateDirectories: true
            )
            try self.write("provider", Array("\(provider)\n".utf8))
            try self.write("generation", Array("\(generation)\n".utf8))
            try self.write("inblob", [])
            try self.write("outblob", outblob)
        }

        deinit {
            try? FileManager.default.removeItem(atPath: self.root)
        }

        func path(_ file: String) -> String {
            self.root + "/" + self.entry + "/" + file
        }

        func write(_ file: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: self.path(file)))
        }

        func read(_ file: String) throws -> [UInt8] {
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: self.path(file))))
        }

        /// Plays the kernel: every `inblob` write advances `generation` by `step`.
        func advanceGeneration(by step: UInt64) -> @Sendable (String) throws -> Void {
            { entry in
                let url = URL(fileURLWithPath: entry + "/generation")
                let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
                let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                try Data("\(value + step)\n".utf8).write(to: url)
            }
        }
    }

    static let reportData: [UInt8] = Array(0..<64)

    @Test func producesTheOutblobForTheWrittenReportData() async throws {
        let tree = try FakeTree()
        let provider = try ConfigFSTSMProvider(
            expected: .tdxQuote,
            root: tree.root,
            entryName: tree.entry,
            afterInblobWrite: tree.advanceGeneration(by: 1)
        )
        #expect(provider.evidenceType == .tdxQuote)
        #expect(!provider.isInsecure)
        let evidence = try await provider.evidence(reportData: Self.reportData)
        #expect(evidence == Evidence(type: .tdxQuote, bytes: Array(repeating: 0xAB, count: 300)))
        #expect(try tree.read("inblob") == Self.reportData)
        #expect(try tree.read("generation") == Array("4\n".utf8))
    }

    @Test func snpProviderIsRecognised() async throws {
        let tree = try FakeTree(provider: "sev_guest")
        let provider = try ConfigFSTSMProvider(root: tree.root, entryName: tree.entry)
        #expect(provider.evidenceType == .snpReport)
    }

    @Test func providerNameMismatchIsRefused() throws {
        let tree = try FakeTree(provider: "sev_guest")
        expectError(.providerMismatch) {
            _ = try ConfigFSTSMProvider(expected: .tdxQuote, root: tree.root, entryName: tree.entry)
        }
        let unknown = try FakeTree(provider: "arm_cca_guest")
        expectError(.providerUnavailable) { _ = try ConfigFSTSMProvider(root: unknown.root, entryName: unknown.entry) }
    }

    @Test func providerChangedAfterStartIsRefused() async throws {
        let tree = try FakeTree()
        let provider = try ConfigFSTSMProvider(root: tree.root, entryName: tree.entry)
        try tree.write("provider", Array("sev_guest\n".utf8))
        await expectError(.providerMismatch) { _ = try await provider.evidence(reportData: Self.reportData) }
    }

    @Test(arguments: [0, 2, 7] as [UInt64])
    func generationThatDidNotAdvanceByExactlyOurWriteIsRefused(_ step: UInt64) async throws {
        let tree = try FakeTree()
        let provider = try ConfigFSTSMProvider(
            expected: nil,
            root: tree.root,
            entryName: tree.entry,
            afterInblobWrite: tree.advanceGeneration(by: step)
        )
        await expectError(.concurrentRequest) { _ = try await provider.evidence(reportData: Self.reportData) }
    }

    @Test func malformedGenerationIsRefused() async throws {
        let tree = try FakeTree()
        try tree.write("generation", Array("three\n".utf8))
        let provider = try ConfigFSTSMProvider(root: tree.root, entryName: tree.entry)
        await expectError(.malformed) { _ = try await provider.evidence(reportData: Self.reportData) }
    }

    @Test func reportDataMustBeSixtyFourBytes() async throws {
        let tree = try FakeTree()
        let provider = try ConfigFSTSMProvider(root: tree.root, entryName: tree.entry)
        await expectError(.invalidArgument) { _ = try await provider.evidence(reportData: [1, 2, 3]) }
    }

    @Test func missingRootIsUnavailable() {
        expectError(.providerUnavailable) {
            _ = try ConfigFSTSMProvider(root: "/nonexistent/confide/tsm/report")
        }
    }

    @Test func freshEntryIsRemovedAfterUse() throws {
        let tree = try FakeTree()
        expectError(.io) { _ = try ConfigFSTSMProvider(root: tree.root) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tree.root) == [tree.entry])
    }

    @Test func automaticProviderPrefersHardware() async throws {
        let tree = try FakeTree()
        let automatic = try AutomaticEvidenceProvider(root: tree.root, entryName: tree.entry)
        #expect(automatic.evidenceType == .tdxQuote)
        #expect(!automatic.isInsecure)
        #expect(automatic.warning == nil)
    }

    @Test func automaticProviderFallsBackToSimulatedLoudly() async throws {
        let automatic = try AutomaticEvidenceProvider(root: "/nonexistent/confide/tsm/report")
        #expect(automatic.evidenceType == .simulated)
        #expect(automatic.isInsecure)
        #expect(automatic.warning?.contains("INSECURE") == true)
        let evidence = try await automatic.evidence(reportData: Self.reportData)
        #expect(evidence.type == .simulated)
    }
}
