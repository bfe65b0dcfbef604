import ConfideAttestation
import ConfideClient
import ConfideHTTPClient
import ConfideMeasurement
import ConfideServer
import ConfideServerTestSupport
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import Testing

@Suite("Evidence and event records through the Confidential Containers attestation agent")
struct CoCoAttestationTests {
    /// Report data whose base64 holds `+` and `/`, which base64url writes `-` and `_`.
    static let reportData: [UInt8] = [0xFB, 0xFF, 0xBF] + (3..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) }

    static func sample(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: AttestationSamples.folder.appendingPathComponent(name)))
    }

    static func snpSample() throws -> [UInt8] {
        let text = String(decoding: try sample("snp-report-milan.hex"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let digits = Array(text.utf8)
        return try stride(from: 0, to: digits.count, by: 2).map { index in
            try #require(UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16))
        }
    }

    /// The error `body` throws, or a failure when it throws none.
    static func attestationError(_ body: () async throws -> Void) async -> AttestationError? {
        do {
            try await body()
            Issue.record("expected an AttestationError")
            return nil
        } catch {
            #expect(error is AttestationError, "\(error)")
            return error as? AttestationError
        }
    }

    // MARK: Evidence

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func theExactRuntimeDataReachesTheAgentAndTheTDXQuoteComesBackUnwrapped() async throws {
        let quote = try Self.sample("tdx-quote-v4-b.bin")
        let eventLog = Array("CCEL and AAEL bytes \u{0}\u{1}\u{2}".utf8)
        let agent = try await CoCoAgentStandIn.start(.tdx(quote: quote, eventLog: eventLog))
        defer { Task { await agent.stop() } }
        let answer = try await agent.client.evidence(runtimeData: Self.reportData)
        #expect(agent.violations.isEmpty, "\(agent.violations)")
        let request = try #require(agent.received.first)
        #expect(request.method == .GET && request.path == "/aa/evidence")
        let encoded = Data(Self.reportData).base64EncodedString()
        #expect(encoded.contains("+") && encoded.contains("/"))
        let expectedQuery =
            "runtime_data="
            + encoded.replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "") + "&encoding=base64"
        #expect(request.query == expectedQuery)
        #expect(agent.runtimeData == [Self.reportData])
        #expect(
            answer.evidence
                == Evidence(type: .tdxQuote, bytes: CoCoAgentStandIn.withTDXReportData(quote, Self.reportData)))
        #expect(answer.eventLog == eventLog)
        #expect(answer.certificates.isEmpty)
        #expect(try TDXQuote(bytes: answer.evidence.bytes).body.reportData == Self.reportData)

        // Shorter runtime data is padded with zeros by the agent, not hashed; a null cc_eventlog is no log.
        agent.mode = .tdx(quote: quote, eventLog: nil)
        let short = Array(Self.reportData.prefix(20))
        let padded = try await agent.client.evidence(runtimeData: short)
        #expect(agent.runtimeData.last == short)
        #expect(try TDXQuote(bytes: padded.evidence.bytes).body.reportData == short + [UInt8](repeating: 0, count: 44))
        #expect(padded.eventLog == nil)
        let tooLong = await Self.attestationError {
            _ = try await agent.client.evidence(runtimeData: Self.reportData + [0])
        }
        #expect(tooLong?.code == .invalidArgument)
        #expect(agent.received.count == 2, "nothing is sent for runtime data the agent cannot carry")
    }

    /// The real quote carries report data of its own, not the runtime data asked for: the answer is refused.
    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func evidenceOverOtherReportDataIsRefused() async throws {
        let quote = try Self.sample("tdx-quote-v4-b.bin")
        let agent = try await CoCoAgentStandIn.start(
            .fixed(status: .ok, body: CoCoAgentStandIn.tdxAnswer(quote: quote, eventLog: nil)))
        defer { Task { await agent.stop() } }
        let error = await Self.attestationError { _ = try await agent.client.evidence(runtimeData: Self.reportData) }
        #expect(error?.code == .reportDataMismatch)
        #expect(error?.message.contains("9a9d48e7f6799642") == true, "\(error?.message ?? "")")
        await #expect(throws: AttestationError.self) {
            _ = try await CoCoEvidenceProvider(agent: agent.client)
        }
        #expect(agent.violations.isEmpty)
    }

    /// The agent sends the SEV-SNP report as the `sev` crate's fields: the client rebuilds the exact 1184 signed
    /// bytes, which still verify with the VCEK that the `cert_chain` carries.
    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func theSNPReportIsRebuiltByteForByteFromTheAgentsFields() async throws {
        let report = try Self.snpSample()
        let vcek = try Self.sample("snp-vcek-milan.der")
        let real = CoCoAgentStandIn.snpAnswer(report: report, certificates: [("VCEK", vcek)])
        let unwrapped = try CoCoAttestationAgent.parseEvidence(real)
        #expect(unwrapped.evidence == Evidence(type: .snpReport, bytes: report))
        #expect(unwrapped.certificates == [CoCoCertificate(kind: "VCEK", bytes: vcek)])
        var policy = AttestationPolicy(expectedReportData: [])
        policy.validationTime = Date(timeIntervalSince1970: 1_767_225_600)  // inside the sample VCEK's validity
        try SNPReportVerifier.verify(
            try SNPReport(bytes: unwrapped.evidence.bytes), certificates: unwrapped.certificates[0].bytes,
            policy: policy)
        // `confide attest verify` reads the same answer, saved to a file, into the same bytes and chain.
        let decoded = try EvidenceFormat.decode(real)
        #expect(decoded.bytes == report)
        #expect(try SNPCertificateTable.derCertificates(in: try #require(decoded.snpCertificates)) == [vcek])

        let served = try await CoCoAgentStandIn.start(.snp(report: report, certificates: [("VCEK", vcek)]))
        defer { Task { await served.stop() } }
        let endorsed = try await CoCoEvidenceProvider(agent: served.client).evidence(reportData: Self.reportData)
        #expect(
            try SNPCertificateTable.derCertificates(in: try #require(endorsed.endorsements.snpCertificates))
                == [vcek])

        let agent = try await CoCoAgentStandIn.start(.snp(report: report, certificates: []))
        defer { Task { await agent.stop() } }
        let answer = try await agent.client.evidence(runtimeData: Self.reportData)
        var expected = report
        expected.replaceSubrange(0x50..<0x90, with: Self.reportData)
        #expect(answer.evidence == Evidence(type: .snpReport, bytes: expected))
        #expect(answer.certificates.isEmpty)
        let provider = try await CoCoEvidenceProvider(agent: agent.client)
        #expect(provider.evidenceType == .snpReport)
        #expect(try await provider.evidence(reportData: Self.reportData).bytes == expected)
        #expect(agent.violations.isEmpty)
    }

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func snpFieldsTheClientCannotRebuildAreRefused() throws {
        let report = try Self.snpSample()
        let answer = String(decoding: CoCoAgentStandIn.snpAnswer(report: report, certificates: []), as: UTF8.self)
        func refusal(_ edited: String) -> AttestationError? {
            do {
                _ = try CoCoAttestationAgent.parseEvidence(Array(edited.utf8))
                return nil
            } catch {
                return error
            }
        }
        // An unknown field (an older agent's `_reserved`), a missing one, a byte out of range, a short array, a
        // Turin TCB beside Milan ones, a version 2 report with CPUID fields.
        let cases = [
            answer.replacingOccurrences(of: #""vmpl":"#, with: #""_reserved_0":0,"vmpl":"#),
            answer.replacingOccurrences(of: #""guest_svn":0,"#, with: ""),
            answer.replacingOccurrences(of: #""family_id":[0,"#, with: #""family_id":[256,"#),
            answer.replacingOccurrences(of: #""host_data":[0,"#, with: #""host_data":["#),
            answer.replacingOccurrences(of: #""launch_tcb":{"fmc":null"#, with: #""launch_tcb":{"fmc":1"#),
            answer.replacingOccurrences(of: #""cpuid_fam_id":null"#, with: #""cpuid_fam_id":25"#),
            answer.replacingOccurrences(of: #""version":2,"#, with: #""version":1,"#),
        ]
        for edited in cases {
            #expect(edited != answer)
            let error = refusal(edited)
            #expect(error != nil && error?.code != .reportDataMismatch, "\(edited.prefix(120))")
        }
        #expect(refusal(answer) == nil)
    }

    /// The fuzz target's entry point returns normally on truncated and mutated answers of both kinds.
    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func theFuzzEntryPointSurvivesTruncatedAndMutatedAnswers() throws {
        let answers = [
            CoCoAgentStandIn.tdxAnswer(quote: try Self.sample("tdx-quote-v4-b.bin"), eventLog: [1, 2, 3]),
            CoCoAgentStandIn.snpAnswer(report: try Self.snpSample(), certificates: [("ASK", [0x30, 0x82])]),
        ]
        for answer in answers {
            ServerFuzz.cocoEvidence(answer)
            for length in stride(from: 0, to: answer.count, by: 53) {
                ServerFuzz.cocoEvidence(Array(answer.prefix(length)))
            }
            for index in stride(from: 0, to: answer.count, by: 97) {
                var mutated = answer
                mutated[index] ^= 0x04
                ServerFuzz.cocoEvidence(mutated)
            }
        }
    }

    // MARK: Event records

    @Test func eventRecordsArriveWithTheExactFields() async throws {
        let agent = try await CoCoAgentStandIn.start(.featureOff)
        defer { Task { await agent.stop() } }
        agent.mode = .fixed(status: .ok, body: [])
        let content = #"{"name":"echo","sha384":"0123abcd","path":"/handlers/lib echo.so"}"#
        try await agent.client.recordEvent(domain: "github.com/confide", operation: "PluginLoaded", content: content)
        try await agent.client.recordEvent(domain: "confide", operation: "ModelLoaded", content: "a b  c")
        #expect(agent.violations.isEmpty, "\(agent.violations)")
        #expect(
            agent.events == [["github.com/confide", "PluginLoaded", content], ["confide", "ModelLoaded", "a b  c"]])
        #expect(agent.received.allSatisfy { $0.method == .POST && $0.path == "/aa/aael" && $0.query.isEmpty })

        // Fields the agent's log cannot carry are refused before anything is sent.
        let refused: [(String, String, String)] = [
            ("has space", "op", "c"), ("d", "op\t", "c"), ("d", "op", "line\nbreak"), ("d", "op", "cr\r"),
            ("", "op", "c"), ("d", "op", ""), ("dömain", "op", "c"), ("d", "op", String(repeating: "x", count: 4097)),
        ]
        for (domain, operation, content) in refused {
            let error = await Self.attestationError {
                try await agent.client.recordEvent(domain: domain, operation: operation, content: content)
            }
            #expect(error?.code == .invalidArgument, "\(domain) \(operation) \(content.prefix(20))")
        }
        let space = await Self.attestationError {
            try await agent.client.recordEvent(domain: "a b", operation: "op", content: "c")
        }
        #expect(space?.message.contains("space") == true)
        #expect(agent.received.count == 2)

        // The agent answers 200 with success "false" when its event log is off.
        agent.eventAnswer = Array(
            #"{"success":"false","message": "Attestation Agent does not enable eventlog recording"}"#.utf8)
        let off = await Self.attestationError {
            try await agent.client.recordEvent(domain: "confide", operation: "op", content: "c")
        }
        #expect(off?.code == .providerFailed)
        #expect(off?.message.contains("enable_eventlog = true") == true, "\(off?.message ?? "")")
        agent.eventAnswer = Array("not json".utf8)
        let garbled = await Self.attestationError {
            try await agent.client.recordEvent(domain: "confide", operation: "op", content: "c")
        }
        #expect(garbled?.code == .malformed)
    }

    // MARK: Refusals

    @Test func anAgentWithItsAttestationAPIOffIsNamedWithTheKernelParameter() async throws {
        let agent = try await CoCoAgentStandIn.start(.featureOff)
        defer { Task { await agent.stop() } }
        let evidence = await Self.attestationError { _ = try await agent.client.evidence(runtimeData: Self.reportData) }
        #expect(evidence?.code == .providerUnavailable)
        #expect(evidence?.message.contains("agent.guest_components_rest_api=all") == true, "\(evidence?.message ?? "")")
        let event = await Self.attestationError {
            try await agent.client.recordEvent(domain: "confide", operation: "op", content: "c")
        }
        #expect(event?.code == .providerUnavailable)
        #expect(event?.message.contains("agent.guest_components_rest_api=all") == true)
    }

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func malformedAnswersAreRefusedWithClearErrors() async throws {
        let quote = try Self.sample("tdx-quote-v4-b.bin")
        let agent = try await CoCoAgentStandIn.start(.featureOff)
        defer { Task { await agent.stop() } }
        let answers: [(HTTPResponseStatus, String, AttestationError.ErrorCode, String)] = [
            (.ok, "not json", .malformed, "not JSON"),
            (.ok, "[1,2]", .malformed, "not a JSON object"),
            (.ok, #"{"cc_eventlog":null,"quote":"***"}"#, .malformed, "not standard base64"),
            (.ok, #"{"cc_eventlog":null,"quote":42}"#, .malformed, "not a base64 string"),
            (.ok, #"{"cc_eventlog":7,"quote":"AAAA"}"#, .malformed, "cc_eventlog"),
            (.ok, #"{"cc_eventlog":null,"quote":"AAAA"}"#, .truncated, "TDX"),
            (.ok, #"{"attestation_report":[],"cert_chain":null}"#, .malformed, "not an object"),
            (.ok, #"{"svn":"1","report_data":"AAAA"}"#, .unsupportedFormat, "sample evidence"),
            (.ok, #"{"something":"else"}"#, .unsupportedFormat, "neither"),
            (.internalServerError, "TDX Attester: quote generation failed", .providerFailed, "HTTP 500"),
            (.notFound, "URL NOT FOUND", .providerFailed, "HTTP 404"),
        ]
        for (status, body, code, phrase) in answers {
            agent.mode = .fixed(status: status, body: Array(body.utf8))
            let error = await Self.attestationError {
                _ = try await agent.client.evidence(runtimeData: Self.reportData)
            }
            #expect(error?.code == code, "\(body): \(error?.description ?? "")")
            #expect(error?.message.contains(phrase) == true, "\(body): \(error?.message ?? "")")
        }
        // A certificate chain entry that is not the sev crate's form.
        let badChain = String(
            decoding: CoCoAgentStandIn.snpAnswer(report: try Self.snpSample(), certificates: [("VCEK", [1, 2])]),
            as: UTF8.self
        ).replacingOccurrences(of: #""cert_type":"VCEK""#, with: #""cert_type":"Mystery""#)
        #expect(throws: AttestationError.self) { _ = try CoCoAttestationAgent.parseEvidence(Array(badChain.utf8)) }

        // An answer larger than the client takes is cut off, not held.
        agent.mode = .fixed(
            status: .ok, body: CoCoAgentStandIn.tdxAnswer(quote: quote, eventLog: [UInt8](repeating: 7, count: 1 << 20))
        )
        var small = agent.client
        small.maximumAnswerBytes = 64 << 10
        let huge = await Self.attestationError { _ = try await small.evidence(runtimeData: Self.reportData) }
        #expect(huge?.code == .oversized)

        // An agent that does not answer in time.
        agent.mode = .slow(delay: .seconds(3), quote: quote)
        var impatient = agent.client
        impatient.requestTimeout = .milliseconds(300)
        let slow = await Self.attestationError { _ = try await impatient.evidence(runtimeData: Self.reportData) }
        #expect(slow?.code == .providerFailed)
        #expect(slow?.message.contains("did not answer") == true, "\(slow?.message ?? "")")
        #expect(agent.violations.isEmpty, "\(agent.violations)")
    }

    /// A refused connection fails as "no agent answers" (not as a timeout), so `auto` moves on at once.
    @Test func noAgentListeningFailsAtOnce() async throws {
        // A port bound but not listening refuses connections, and nothing else can take it meanwhile.
        let socket = try BoundSocket()
        defer { socket.close() }
        let port = socket.port
        let error = await Self.attestationError {
            _ = try await CoCoAttestationAgent(port: port).evidence(runtimeData: Self.reportData)
        }
        #expect(error?.code == .providerUnavailable)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        #expect(error?.message.contains("refused") == true, "\(error?.message ?? "")")
    }

    // MARK: Detection and the server

    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func automaticDetectionFindsTheAgentWhereConfigFSIsAbsent() async throws {
        let agent = try await CoCoAgentStandIn.start(.tdx(quote: try Self.sample("tdx-quote-v4-b.bin"), eventLog: nil))
        defer { Task { await agent.stop() } }
        let absent = "/nonexistent/confide/tsm/report"
        let found = try await AutomaticEvidenceProvider.detect(configFSRoot: absent, agent: agent.client)
        #expect(found.warning == nil)
        #expect(found.selected is CoCoEvidenceProvider)
        #expect(CoCoEvidenceProvider.agent(behind: found)?.port == agent.port)
        #expect(found.evidenceType == .tdxQuote && !found.isInsecure)
        #expect(agent.runtimeData.count == 1, "detection asks for evidence once")

        agent.mode = .featureOff
        let off = try await AutomaticEvidenceProvider.detect(configFSRoot: absent, agent: agent.client)
        #expect(off.evidenceType == .simulated)
        #expect(CoCoEvidenceProvider.agent(behind: off) == nil)
        #expect(off.warning?.contains("agent.guest_components_rest_api=all") == true, "\(off.warning ?? "")")

        let closed = try await CoCoAgentStandIn.start(.featureOff)
        await closed.stop()
        let started = ContinuousClock.now
        let none = try await AutomaticEvidenceProvider.detect(
            configFSRoot: absent, agent: CoCoAttestationAgent(port: closed.port))
        #expect(ContinuousClock.now - started < .seconds(2), "no agent listening must not slow the start")
        #expect(none.evidenceType == .simulated)
        #expect(none.warning?.contains("configfs-tsm is not available") == true)
        #expect(none.warning?.contains("no Confidential Containers attestation agent answers") == true)
    }

    /// A server started with `.coco` serves the agent's evidence at `/attestation`, over exactly its report data.
    @Test(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
    func theServerServesTheAgentsEvidenceOverItsKeyBinding() async throws {
        let agent = try await CoCoAgentStandIn.start(.tdx(quote: try Self.sample("tdx-quote-v4-b.bin"), eventLog: nil))
        defer { Task { await agent.stop() } }
        let server = try await TestServer.start { configuration in
            configuration.attestation = .coco
            configuration.attestationAgent = agent.client
        }
        defer { Task { await server.stop() } }
        #expect(server.server.evidenceProvider is CoCoEvidenceProvider)
        let nonce = String(repeating: "5a", count: 32)
        let response = try await send(server.port, .GET, "/attestation?nonce=\(nonce)")
        #expect(response.status == .ok, "\(response.text)")
        let parsed = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
        let document = try #require(parsed as? [String: Any])
        #expect(document["evidence_type"] as? String == "tdx-quote")
        #expect(document["insecure"] as? Bool == false)
        let text = try #require(document["evidence"] as? String)
        let evidence = try #require(Data(base64Encoded: text))
        // The agent received the server's 64-byte binding as runtime data, and the evidence carries it unchanged.
        let binding = try #require(agent.runtimeData.last)
        #expect(binding.count == 64)
        #expect(Array(evidence) == CoCoAgentStandIn.withTDXReportData(try Self.sample("tdx-quote-v4-b.bin"), binding))
        // Every event of the served log reached the agent's event log, in order, before the evidence was taken.
        let served = try AttestationDocument(json: Array(response.body.readableBytesView))
        #expect(served.register == "aael")
        #expect(served.measurements.events.count >= 6)
        let records = served.measurements.events.map { event in
            ["confide", event.kind.name, event.eventDigest.map { String(format: "%02x", $0) }.joined()]
        }
        #expect(agent.events == records)
        #expect(
            binding
                == (try ConfideAttestation.reportData(
                    keyConfigurations: served.keyConfigurations, nonce: Array(repeating: 0x5A, count: 32),
                    measurementLog: served.measurements.digest)))
        #expect(agent.violations.isEmpty)

        agent.mode = .featureOff
        await #expect(throws: AttestationError.self) {
            _ = try await TestServer.start { configuration in
                configuration.attestation = .coco
                configuration.attestationAgent = agent.client
            }
        }
    }
}

/// A loopback TCP socket bound to a free port and never listening: connections to the port are refused, and no
/// other server can bind it while the socket is open.
struct BoundSocket {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                Glibc.bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard descriptor >= 0, bound else { throw ClientTestError("cannot bind a loopback socket") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}
