import ConfideServer
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A stand-in for the Confidential Containers attestation agent's REST API on a free loopback port.
///
/// It checks every request as the real agent (guest-components' api-server-rest) parses it: `GET /aa/evidence` with
/// exactly `runtime_data` (base64url without padding, at most 64 bytes once decoded) and `encoding=base64`, and
/// `POST /aa/aael` with a JSON body of exactly the string fields `domain`, `operation` and `content`. A request that
/// deviates is recorded in ``violations`` and answered 400, as the agent does. What it answers is set by ``mode``.
final class CoCoAgentStandIn: RequestResponder {
    /// What the stand-in answers to evidence requests.
    enum Mode: Sendable {
        /// A TDX answer: `quote` with the asked report data written into it, and `eventLog` as `cc_eventlog`.
        case tdx(quote: [UInt8], eventLog: [UInt8]?)
        /// An SEV-SNP answer: `report` with the asked report data written into it, as the `sev` crate's fields.
        case snp(report: [UInt8], certificates: [(kind: String, der: [UInt8])])
        /// The same answer to every evidence request, whatever was asked.
        case fixed(status: HTTPResponseStatus, body: [UInt8])
        /// The agent's attestation API is off: 404 "Attestation Feature Not Enabled" for every `/aa` request.
        case featureOff
        /// A TDX answer after `delay`.
        case slow(delay: Duration, quote: [UInt8])
    }

    /// One request as it arrived.
    struct Received: Sendable, Equatable {
        var method: HTTPMethod
        var path: String
        var query: String
        var contentType: String?
        var body: [UInt8]
    }

    private let state = Mutex<(mode: Mode, eventAnswer: [UInt8], received: [Received], violations: [String])>(
        (.featureOff, Array(#"{"success":"true"}"#.utf8), [], []))
    private let listener = Mutex<HTTPServer?>(nil)

    /// Starts a stand-in answering in `mode`.
    static func start(_ mode: Mode) async throws -> CoCoAgentStandIn {
        let agent = CoCoAgentStandIn()
        agent.mode = mode
        let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, responder: agent, maxBodySize: 64 << 10)
        agent.listener.withLock { $0 = server }
        return agent
    }

    var port: Int { listener.withLock { $0?.port ?? 0 } }

    /// A client of this stand-in, with short timeouts.
    var client: CoCoAttestationAgent {
        CoCoAttestationAgent(port: port, connectTimeout: .seconds(2), requestTimeout: .seconds(10))
    }

    var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    /// The body answered to event records.
    var eventAnswer: [UInt8] {
        get { state.withLock { $0.eventAnswer } }
        set { state.withLock { $0.eventAnswer = newValue } }
    }

    var received: [Received] { state.withLock { $0.received } }
    var violations: [String] { state.withLock { $0.violations } }

    /// The runtime data of every well-formed evidence request, decoded.
    var runtimeData: [[UInt8]] {
        received.filter { $0.path == "/aa/evidence" }.compactMap { Self.parseEvidenceQuery($0.query) }
    }

    /// The `(domain, operation, content)` of every well-formed event record.
    var events: [[String]] {
        received.filter { $0.path == "/aa/aael" }.compactMap { Self.parseEvent($0.body) }
    }

    func stop() async {
        await listener.withLock { $0 }?.shutdown()
    }

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let received = Received(
            method: request.method, path: request.path, query: request.query,
            contentType: request.headers.first(name: "Content-Type"), body: Array(request.body.readableBytesView))
        let mode = state.withLock { state in
            state.received.append(received)
            return state.mode
        }
        if case .featureOff = mode, request.path.hasPrefix("/aa/") {
            return respond(Self.text(.notFound, "Attestation Feature Not Enabled"))
        }
        switch (request.method, request.path) {
        case (.GET, "/aa/evidence"):
            guard let runtimeData = Self.parseEvidenceQuery(request.query) else {
                return refuse("evidence query \(request.query)", respond)
            }
            answerEvidence(mode, runtimeData: runtimeData, respond: respond)
        case (.POST, "/aa/aael"):
            guard received.contentType == "application/json", Self.parseEvent(received.body) != nil else {
                return refuse("event record \(String(decoding: received.body, as: UTF8.self))", respond)
            }
            respond(
                ServerResponse(
                    status: .ok, headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: eventAnswer)))
        default:
            refuse("\(request.method) \(request.path)", respond)
        }
    }

    private func answerEvidence(
        _ mode: Mode, runtimeData: [UInt8], respond: @escaping @Sendable (ServerResponse) -> Void
    ) {
        let reportData = runtimeData + [UInt8](repeating: 0, count: 64 - runtimeData.count)
        switch mode {
        case .tdx(let quote, let eventLog):
            respond(Self.octets(Self.tdxAnswer(quote: Self.withTDXReportData(quote, reportData), eventLog: eventLog)))
        case .snp(let report, let certificates):
            var patched = report
            patched.replaceSubrange(0x50..<0x90, with: reportData)
            respond(Self.octets(Self.snpAnswer(report: patched, certificates: certificates)))
        case .fixed(let status, let body):
            respond(ServerResponse(status: status, body: ByteBuffer(bytes: body)))
        case .featureOff:
            respond(Self.text(.notFound, "URL NOT FOUND"))
        case .slow(let delay, let quote):
            let answer = Self.octets(Self.tdxAnswer(quote: Self.withTDXReportData(quote, reportData), eventLog: nil))
            Task {
                try? await Task.sleep(for: delay)
                respond(answer)
            }
        }
    }

    private func refuse(_ what: String, _ respond: @escaping @Sendable (ServerResponse) -> Void) {
        state.withLock { $0.violations.append(what) }
        respond(Self.text(.badRequest, "BAD REQUEST"))
    }

    // MARK: What the real agent parses

    /// The runtime data of `runtime_data=<base64url>&encoding=base64`, or nil when the query is anything else.
    static func parseEvidenceQuery(_ query: String) -> [UInt8]? {
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map {
            $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        }
        guard pairs.count == 2, pairs.allSatisfy({ $0.count == 2 }), pairs[0][0] == "runtime_data",
            pairs[1] == ["encoding", "base64"]
        else { return nil }
        let text = pairs[0][1]
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        guard text.allSatisfy(alphabet.contains), text.count % 4 != 1 else { return nil }
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        guard let data = Data(base64Encoded: standard), data.count <= 64 else { return nil }
        return Array(data)
    }

    /// The fields of an event record body, or nil unless it is a JSON object of exactly three strings.
    static func parseEvent(_ body: [UInt8]) -> [String]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], object.count == 3,
            let domain = object["domain"] as? String, let operation = object["operation"] as? String,
            let content = object["content"] as? String
        else { return nil }
        return [domain, operation, content]
    }

    // MARK: What the real agent answers

    /// A TDX quote with `reportData` at its report data (offset 568 in a version 4 quote, 574 in a version 5).
    static func withTDXReportData(_ quote: [UInt8], _ reportData: [UInt8]) -> [UInt8] {
        let offset = quote[0] == 5 ? 574 : 568
        var patched = quote
        patched.replaceSubrange(offset..<offset + 64, with: reportData)
        return patched
    }

    /// The TDX attester's `{"cc_eventlog", "quote"}`, both standard base64 (the log null when absent).
    static func tdxAnswer(quote: [UInt8], eventLog: [UInt8]?) -> [UInt8] {
        let log = eventLog.map { "\"\(Data($0).base64EncodedString())\"" } ?? "null"
        return Array(#"{"cc_eventlog":\#(log),"quote":"\#(Data(quote).base64EncodedString())"}"#.utf8)
    }

    /// The SEV-SNP attester's `{"attestation_report", "cert_chain"}`: the report as the serde fields of the `sev`
    /// crate's (6.x) `AttestationReport`, written here from the AMD ABI's offsets.
    static func snpAnswer(report: [UInt8], certificates: [(kind: String, der: [UInt8])]) -> [UInt8] {
        func array(_ range: Range<Int>) -> String { "[" + report[range].map(String.init).joined(separator: ",") + "]" }
        func integer(_ offset: Int, _ size: Int) -> String {
            String((0..<size).reduce(UInt64(0)) { $0 | UInt64(report[offset + $1]) << (8 * UInt64($1)) })
        }
        let version = Int(report[0])
        let chipID = Array(report[0x1A0..<0x1E0])
        let turin = version >= 3 ? report[0x188] == 0x1A : chipID[8...].allSatisfy { $0 == 0 }
        func tcb(_ offset: Int) -> String {
            let b = Array(report[offset..<offset + 8])
            return turin
                ? #"{"fmc":\#(b[0]),"bootloader":\#(b[1]),"tee":\#(b[2]),"snp":\#(b[3]),"microcode":\#(b[7])}"#
                : #"{"fmc":null,"bootloader":\#(b[0]),"tee":\#(b[1]),"snp":\#(b[6]),"microcode":\#(b[7])}"#
        }
        func firmware(_ offset: Int) -> String {
            #"{"major":\#(report[offset + 2]),"minor":\#(report[offset + 1]),"build":\#(report[offset])}"#
        }
        let cpuid = (version >= 3 ? [0x188, 0x189, 0x18A].map { String(report[$0]) } : ["null", "null", "null"])
        let mitigation = version >= 5 ? [integer(0x1F8, 8), integer(0x200, 8)] : ["null", "null"]
        let fields = [
            #""version":\#(integer(0, 4))"#, #""guest_svn":\#(integer(4, 4))"#, #""policy":\#(integer(8, 8))"#,
            #""family_id":\#(array(0x10..<0x20))"#, #""image_id":\#(array(0x20..<0x30))"#,
            #""vmpl":\#(integer(0x30, 4))"#, #""sig_algo":\#(integer(0x34, 4))"#, #""current_tcb":\#(tcb(0x38))"#,
            #""plat_info":\#(integer(0x40, 8))"#, #""key_info":\#(integer(0x48, 4))"#,
            #""report_data":\#(array(0x50..<0x90))"#, #""measurement":\#(array(0x90..<0xC0))"#,
            #""host_data":\#(array(0xC0..<0xE0))"#, #""id_key_digest":\#(array(0xE0..<0x110))"#,
            #""author_key_digest":\#(array(0x110..<0x140))"#, #""report_id":\#(array(0x140..<0x160))"#,
            #""report_id_ma":\#(array(0x160..<0x180))"#, #""reported_tcb":\#(tcb(0x180))"#,
            #""cpuid_fam_id":\#(cpuid[0])"#, #""cpuid_mod_id":\#(cpuid[1])"#, #""cpuid_step":\#(cpuid[2])"#,
            #""chip_id":\#(array(0x1A0..<0x1E0))"#, #""committed_tcb":\#(tcb(0x1E0))"#,
            #""current":\#(firmware(0x1E8))"#, #""committed":\#(firmware(0x1EC))"#, #""launch_tcb":\#(tcb(0x1F0))"#,
            #""launch_mit_vector":\#(mitigation[0])"#, #""current_mit_vector":\#(mitigation[1])"#,
            #""signature":{"r":\#(array(0x2A0..<0x2E8)),"s":\#(array(0x2E8..<0x330))}"#,
        ]
        let chain =
            certificates.isEmpty
            ? "null"
            : "["
                + certificates.map {
                    #"{"cert_type":"\#($0.kind)","data":[\#($0.der.map(String.init).joined(separator: ","))]}"#
                }
                .joined(separator: ",") + "]"
        return Array(#"{"attestation_report":{\#(fields.joined(separator: ","))},"cert_chain":\#(chain)}"#.utf8)
    }

    private static func octets(_ body: [UInt8]) -> ServerResponse {
        ServerResponse(
            status: .ok, headers: ["Content-Type": "application/octet-stream"], body: ByteBuffer(bytes: body))
    }

    private static func text(_ status: HTTPResponseStatus, _ text: String) -> ServerResponse {
        ServerResponse(status: status, body: ByteBuffer(string: text))
    }
}
