import ConfideEnvelope
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import Testing

@Suite("The confide command: encrypted inference and attestation")
struct CommandLineTests {
    @Test func inferEncryptedNeedsTheOptInForSimulatedEvidence() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let url = "http://127.0.0.1:\(server.port)"
        let accepted = try await ConfideCommand.run(
            "infer", "echo", "--text", "secret", "--url", url, "--encrypted", "--accept-simulated")
        #expect(accepted.status == 0, "\(accepted.output)")
        #expect(accepted.output.contains(#""data":["secret"]"#))
        #expect(accepted.output.contains("SIMULATED"))
        let refused = try await ConfideCommand.run("infer", "echo", "--text", "secret", "--url", url, "--encrypted")
        #expect(refused.status != 0)
        #expect(refused.output.contains("simulatedEvidenceRefused"))
        #expect(!refused.output.contains(#""data":["secret"]"#))
    }

    @Test func attestFetchPrintsTheVerifiedEvidence() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let url = "http://127.0.0.1:\(server.port)"
        let fetched = try await ConfideCommand.run("attest", "fetch", url, "--accept-simulated")
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(fetched.output.contains("key:          id \(server.server.keyStore.currentConfiguration.keyID),"))
        #expect(fetched.output.contains("verdict:      OK"))
        let wrong = try await ConfideCommand.run(
            "attest", "fetch", url, "--accept-simulated", "--measurement", String(repeating: "ab", count: 48))
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("REFUSED"))
    }

    /// `attest fetch --policy` prints the log as a list and refuses, naming the setting, what the policy forbids;
    /// `infer --encrypted --policy` sends nothing to such a server.
    @Test func attestFetchChecksTheServerAgainstAPolicyFile() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let url = "http://127.0.0.1:\(server.port)"
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let measured = try await ConfideCommand.run(
            "attest", "measure", "--handlers", server.root.url.appendingPathComponent("handlers").path,
            "--models", server.root.url.appendingPathComponent("models").path, "--executable", executable,
            "--require", "authentication=none")
        #expect(measured.status == 0, "\(measured.output)")
        let allowing = server.root.url.appendingPathComponent("allowing.json")
        try Data(measured.output.utf8).write(to: allowing)
        let fetched = try await ConfideCommand.run(
            "attest", "fetch", url, "--accept-simulated", "--policy", allowing.path)
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(fetched.output.contains("replayed into simulated-rtmr3"))
        #expect(fetched.output.contains("plugin:       echo 1.0.0 (handler"))
        #expect(fetched.output.contains("model:        echo version 1 (echo, folder)"))
        #expect(fetched.output.contains("setting:      authentication = none"))

        let forbidding = server.root.url.appendingPathComponent("forbidding.json")
        let requiringTokens = measured.output.replacingOccurrences(
            of: #""authentication":"none""#, with: #""authentication":"tokens""#)
        try Data(requiringTokens.utf8).write(to: forbidding)
        let refused = try await ConfideCommand.run(
            "attest", "fetch", url, "--accept-simulated", "--policy", forbidding.path)
        #expect(refused.status == 1)
        #expect(refused.output.contains("the setting 'authentication' is 'none'; the policy requires 'tokens'"))
        let inference = try await ConfideCommand.run(
            "infer", "echo", "--text", "secret", "--url", url, "--encrypted", "--accept-simulated",
            "--policy", forbidding.path)
        #expect(inference.status != 0)
        #expect(!inference.output.contains(#""data":["secret"]"#))
    }

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func attestVerifyRealSamples() async throws {
        let tdx = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--allow-missing-collateral")
        #expect(tdx.status == 0, "\(tdx.output)")
        let mrtd =
            "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a"
            + "3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
        #expect(tdx.output.contains("MRTD:         \(mrtd)"))
        #expect(tdx.output.contains("verdict:      OK"))
        let spr = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-spr.bin"), "--allow-missing-collateral")
        #expect(spr.status != 0)
        #expect(spr.output.contains("REFUSED: SEPT_VE_DISABLE (TD attribute bit 28) is not set"), "\(spr.output)")
        let measurement =
            "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
            + "3e1a0dc39b2c60bd95b9c480cd81841f"
        let snp = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("snp-report-milan.hex"), "--vcek",
            AttestationSamples.path("snp-vcek-milan.der"), "--measurement", measurement)
        #expect(snp.status == 0, "\(snp.output)")
        #expect(snp.output.contains("verdict:      OK (measurement checked)"))
        let unsigned = try await ConfideCommand.run("attest", "verify", AttestationSamples.path("snp-report-milan.hex"))
        #expect(unsigned.status != 0)
        let mismatch = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-spr.bin"), "--report-data",
            String(repeating: "00", count: 64), "--allow-missing-collateral")
        #expect(mismatch.status != 0)
        #expect(mismatch.output.contains("REFUSED"))
    }
}
