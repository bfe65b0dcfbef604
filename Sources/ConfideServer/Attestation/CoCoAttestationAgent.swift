public import ConfideAttestation
import ConfideHTTPClient
import ConfideJSON
import ConfideMeasurement
import NIOCore
import NIOHTTP1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Evidence from the Confidential Containers attestation agent, unwrapped, with what the agent sent beside it.
public struct CoCoEvidence: Sendable, Hashable {
    /// The evidence exactly as the hardware signed it: a TDX quote or a 1184-byte SEV-SNP report.
    public let evidence: Evidence
    /// TDX: the agent's `cc_eventlog`, the firmware's event log (CCEL) followed by the agent's own log (AAEL) in the
    /// TCG2 crypto-agile format, which a verifier replays against the quote's RTMRs; `nil` when the agent sent none.
    public let eventLog: [UInt8]?
    /// SEV-SNP: the certificates the host stored for the extended report (`cert_chain`), in the agent's order; empty
    /// when it sent none.
    public let certificates: [CoCoCertificate]

    /// Wraps evidence and what came with it.
    public init(evidence: Evidence, eventLog: [UInt8]?, certificates: [CoCoCertificate]) {
        self.evidence = evidence
        self.eventLog = eventLog
        self.certificates = certificates
    }
}

/// A certificate that an SEV-SNP extended report carried.
public struct CoCoCertificate: Sendable, Hashable {
    /// The kind of certificate: `VCEK`, `VLEK`, `ASK`, `ARK`, `CRL`, or the GUID of another kind.
    public let kind: String
    /// The certificate's bytes as the host stored them (DER for certificates).
    public let bytes: [UInt8]

    /// Names a certificate.
    public init(kind: String, bytes: [UInt8]) {
        self.kind = kind
        self.bytes = bytes
    }
}

/// A client of the Confidential Containers attestation agent's REST API (guest-components' `api-server-rest`), which
/// answers inside a CoCo pod on `127.0.0.1:8006` when the guest kernel's command line holds
/// `agent.guest_components_rest_api=all`.
///
/// - `GET /aa/evidence?runtime_data=<base64url, no padding>&encoding=base64` (guest-components 0.21 or later): the
///   agent pads the runtime data (64 bytes at most) with zeros to the 64-byte report data, without hashing it, and
///   answers its evidence JSON: TDX `{"cc_eventlog": <base64 or null>, "quote": <base64>}`, SEV-SNP
///   `{"attestation_report": {...}, "cert_chain": [...] or null}`, where the report is a structure of fields from
///   which `AgentSNPReport` rebuilds the signed bytes.
/// - `POST /aa/aael` with `{"domain", "operation", "content"}`: the agent appends `domain operation content` to its
///   event log (AAEL) and extends the log's register (RTMR3 on TDX) with the entry's digest.
///
/// Every answer is untrusted input: its size is bounded, and it is parsed without traps into clear errors.
public struct CoCoAttestationAgent: Sendable {
    /// The agent's address inside a CoCo pod.
    public static let defaultHost = "127.0.0.1"
    /// The agent's port inside a CoCo pod (shared with the Confidential Data Hub's resource API).
    public static let defaultPort = 8006
    /// The most runtime data the agent places into the report data.
    public static let maximumRuntimeData = 64
    /// The most bytes each field of an event record may hold.
    public static let maximumEventFieldBytes = 4096
    /// The kernel parameter that turns the agent's attestation API on.
    public static let kernelParameter = "agent.guest_components_rest_api=all"

    /// The agent's host.
    public var host: String
    /// The agent's port.
    public var port: Int
    /// How long connecting may take; a refused connection fails at once.
    public var connectTimeout: Duration
    /// How long one request may take once connected (a TDX quote takes the quoting service a moment).
    public var requestTimeout: Duration
    /// The most bytes an answer's body may have.
    public var maximumAnswerBytes: Int

    /// A client of the agent at `host:port`.
    public init(
        host: String = Self.defaultHost, port: Int = Self.defaultPort, connectTimeout: Duration = .seconds(2),
        requestTimeout: Duration = .seconds(30), maximumAnswerBytes: Int = 8 << 20
    ) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maximumAnswerBytes = maximumAnswerBytes
    }

    /// The address, for messages.
    public var address: String { "\(host):\(port)" }

    /// Asks the agent for evidence whose report data is `runtimeData` padded with zeros to 64 bytes.
    ///
    /// The evidence is parsed (``TDXQuote``, ``SNPReport``) and its report data compared with what was asked, so a
    /// caller never receives evidence over other data.
    ///
    /// - Throws: ``AttestationError`` — `.invalidArgument` for more than 64 bytes, `.providerUnavailable` when no
    ///   agent answers or its attestation API is off, `.providerFailed` when it answers with an error,
    ///   `.oversized`, `.malformed` or `.unsupportedFormat` for an answer that is not the evidence of a TDX or SEV-SNP
    ///   guest, `.reportDataMismatch` for evidence over other report data.
    public func evidence(runtimeData: [UInt8]) async throws(AttestationError) -> CoCoEvidence {
        guard runtimeData.count <= Self.maximumRuntimeData else {
            throw AttestationError(
                .invalidArgument,
                "runtime data is \(runtimeData.count) bytes; the attestation agent takes at most "
                    + "\(Self.maximumRuntimeData)")
        }
        let request = ClientRequest(method: .GET, uri: Self.evidenceURI(runtimeData: runtimeData))
        let response = try await self.exchange(request, purpose: "evidence")
        let body = Array(response.body.readableBytesView)
        guard response.status == .ok else {
            throw self.refusal(response.status, body, purpose: "produce evidence")
        }
        let evidence = try Self.parseEvidence(body)
        try Self.checkReportData(of: evidence.evidence, runtimeData: runtimeData)
        return evidence
    }

    /// Records an event in the agent's event log (AAEL), which extends the log's register with the entry's digest.
    ///
    /// Every field is printable ASCII: `domain` and `operation` without spaces, since the log separates the fields
    /// with single spaces; `content` without line breaks, since each entry is one line. Each holds 1 to
    /// ``maximumEventFieldBytes`` bytes.
    ///
    /// - Throws: ``AttestationError`` — `.invalidArgument` for a field the log cannot carry (nothing is sent),
    ///   `.providerUnavailable` when no agent answers or its attestation API is off, `.providerFailed` when the agent
    ///   does not record the event (its event log is off, or the platform has no runtime register).
    public func recordEvent(domain: String, operation: String, content: String) async throws(AttestationError) {
        let request = try Self.eventRequest(domain: domain, operation: operation, content: content)
        try self.checkEventResponse(try await self.exchange(request, purpose: "an event record"))
    }

    /// ``recordEvent(domain:operation:content:)`` for callers outside Swift concurrency: blocks the calling thread
    /// (never an event loop's) until the agent answered, without needing a thread of the concurrency pool.
    public func recordEventWaiting(domain: String, operation: String, content: String) throws(AttestationError) {
        let request = try Self.eventRequest(domain: domain, operation: operation, content: content)
        let response: ClientResponse
        do {
            response = try self.exchanging(request, purpose: "an event record").wait()
        } catch {
            throw Self.attestationError(error)
        }
        try self.checkEventResponse(response)
    }

    private static func eventRequest(
        domain: String, operation: String, content: String
    ) throws(AttestationError) -> ClientRequest {
        let body = try Self.eventBody(domain: domain, operation: operation, content: content)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return ClientRequest(method: .POST, uri: "/aa/aael", headers: headers, body: ByteBuffer(bytes: body))
    }

    private func checkEventResponse(_ response: ClientResponse) throws(AttestationError) {
        let answer = Array(response.body.readableBytesView)
        guard response.status == .ok else {
            throw self.refusal(response.status, answer, purpose: "record the event")
        }
        try Self.checkEventAnswer(answer)
    }

    // MARK: Requests

    /// The path and query of an evidence request: the runtime data in base64url without padding.
    static func evidenceURI(runtimeData: [UInt8]) -> String {
        "/aa/evidence?runtime_data=\(base64URL(runtimeData))&encoding=base64"
    }

    /// The JSON body of `POST /aa/aael`, after checking each field.
    package static func eventBody(domain: String, operation: String, content: String) throws(AttestationError)
        -> [UInt8]
    {
        try checkEventField(domain, name: "domain", allowsSpace: false)
        try checkEventField(operation, name: "operation", allowsSpace: false)
        try checkEventField(content, name: "content", allowsSpace: true)
        let object = JSONObject([
            "domain": .string(domain), "operation": .string(operation), "content": .string(content),
        ])
        return JSONValue.object(object).serialized
    }

    private static func checkEventField(_ value: String, name: String, allowsSpace: Bool) throws(AttestationError) {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else {
            throw AttestationError(
                .invalidArgument, "the event's \(name) is empty; the agent's event log needs all three fields")
        }
        guard bytes.count <= maximumEventFieldBytes else {
            throw AttestationError(
                .invalidArgument, "the event's \(name) is \(bytes.count) bytes, more than \(maximumEventFieldBytes)")
        }
        let lowest: UInt8 = allowsSpace ? 0x20 : 0x21
        guard let index = bytes.firstIndex(where: { !(lowest...0x7E).contains($0) }) else { return }
        let byte = bytes[index]
        let why =
            switch byte {
            case 0x20: "a space, which separates the fields of the agent's event log entries"
            case 0x0A, 0x0D: "a line break, which ends the agent's event log entries"
            default: "a character that is not printable ASCII, which the agent's event log does not carry"
            }
        throw AttestationError(
            .invalidArgument, "the event's \(name) holds \(why) (byte 0x\(Hex.encode([byte])) at offset \(index))")
    }

    /// Connects, sends `request` and waits for the answer, each step bounded in time and the answer in size.
    private func exchange(_ request: ClientRequest, purpose: String) async throws(AttestationError) -> ClientResponse {
        do {
            return try await self.exchanging(request, purpose: purpose).get()
        } catch {
            throw Self.attestationError(error)
        }
    }

    /// One request on a fresh connection, answered within ``requestTimeout``; the future fails with an
    /// ``AttestationError``.
    private func exchanging(_ request: ClientRequest, purpose: String) -> EventLoopFuture<ClientResponse> {
        let address = self.address
        let requestTimeout = self.requestTimeout
        let started = ContinuousClock.now
        return HTTPConnection.connecting(
            host: host, port: port, connectTimeout: TimeAmount(connectTimeout), maxResponseBodySize: maximumAnswerBytes
        ).flatMapErrorThrowing { error -> HTTPConnection in
            throw AttestationError(
                .providerUnavailable,
                "no Confidential Containers attestation agent answers at \(address) (\(error)); inside a CoCo pod it "
                    + "listens there when the kernel parameter \(Self.kernelParameter) is set")
        }.flatMap { connection in
            let pending = connection.sending(request)
            let timer = pending.eventLoop.scheduleTask(in: TimeAmount(requestTimeout)) { connection.closeNow() }
            return pending.always { _ in
                timer.cancel()
                connection.closeNow()
            }.flatMapErrorThrowing { error -> ClientResponse in
                if let error = error as? ResponseTooLarge {
                    throw AttestationError(
                        .oversized, "the attestation agent's answer to \(purpose) is larger than \(error.limit) bytes")
                }
                if ContinuousClock.now - started >= requestTimeout {
                    throw AttestationError(
                        .providerFailed,
                        "the attestation agent at \(address) did not answer \(purpose) within \(requestTimeout)")
                }
                throw AttestationError(
                    .providerFailed, "the attestation agent at \(address) failed \(purpose): \(error)")
            }
        }
    }

    private static func attestationError(_ error: any Error) -> AttestationError {
        error as? AttestationError ?? AttestationError(.providerFailed, "the attestation agent failed: \(error)")
    }

    /// The error for an answer other than 200: the agent's API is off (404 "Attestation Feature Not Enabled"), or
    /// the agent could not do what was asked.
    private func refusal(_ status: HTTPResponseStatus, _ body: [UInt8], purpose: String) -> AttestationError {
        let text = Self.printable(body)
        if status == .notFound, text == "Attestation Feature Not Enabled" {
            return AttestationError(
                .providerUnavailable,
                "the attestation agent at \(address) has its attestation API turned off (HTTP 404 \"\(text)\"): start "
                    + "the pod with the kernel parameter \(Self.kernelParameter) (the Kata annotation "
                    + "io.katacontainers.config.hypervisor.kernel_params)")
        }
        return AttestationError(
            .providerFailed,
            "the attestation agent at \(address) could not \(purpose): HTTP \(status.code) \"\(text)\"")
    }

    // MARK: Answers

    /// Unwraps the agent's evidence JSON (TDX or SEV-SNP) into the evidence and what came with it.
    package static func parseEvidence(_ body: [UInt8]) throws(AttestationError) -> CoCoEvidence {
        let object = try jsonObject(body, what: "evidence")
        if let quote = object["quote"] {
            return try tdxEvidence(quote: quote, eventLog: object["cc_eventlog"])
        }
        if let report = object["attestation_report"] {
            return try snpEvidence(report: report, chain: object["cert_chain"])
        }
        let keys = object.keys.prefix(8).map { "\"\(printable(Array($0.utf8)))\"" }.joined(separator: ", ")
        if object["svn"] != nil, object["report_data"] != nil {
            throw AttestationError(
                .unsupportedFormat,
                "the attestation agent serves its sample evidence: it found no TDX or SEV-SNP guest to attest")
        }
        throw AttestationError(
            .unsupportedFormat,
            "the attestation agent's evidence has neither \"quote\" (TDX) nor \"attestation_report\" (SEV-SNP); "
                + "its keys are \(keys)")
    }

    private static func tdxEvidence(quote: JSONValue, eventLog: JSONValue?) throws(AttestationError) -> CoCoEvidence {
        guard let text = quote.stringValue else {
            throw AttestationError(.malformed, "the TDX evidence's quote is \(quote.kindName), not a base64 string")
        }
        let bytes = try base64(text, what: "the TDX evidence's quote")
        guard bytes.count <= TDXQuote.maximumSize else {
            throw AttestationError(
                .oversized, "the TDX quote is \(bytes.count) bytes, more than \(TDXQuote.maximumSize)")
        }
        var log: [UInt8]?
        switch eventLog {
        case nil, .null?:
            log = nil
        case .string(let text)?:
            log = try base64(text, what: "the TDX evidence's cc_eventlog")
        case let other?:
            throw AttestationError(
                .malformed, "the TDX evidence's cc_eventlog is \(other.kindName), not base64 or null")
        }
        return CoCoEvidence(evidence: Evidence(type: .tdxQuote, bytes: bytes), eventLog: log, certificates: [])
    }

    private static func snpEvidence(report: JSONValue, chain: JSONValue?) throws(AttestationError) -> CoCoEvidence {
        guard let fields = report.objectValue else {
            throw AttestationError(
                .malformed, "the SEV-SNP evidence's attestation_report is \(report.kindName), not an object")
        }
        let bytes = try AgentSNPReport.rebuild(fields)
        var certificates: [CoCoCertificate] = []
        switch chain {
        case nil, .null?:
            break
        case .array(let entries)?:
            for (index, entry) in entries.enumerated() {
                certificates.append(try certificate(entry, index: index))
            }
        case let other?:
            throw AttestationError(
                .malformed, "the SEV-SNP evidence's cert_chain is \(other.kindName), not an array or null")
        }
        return CoCoEvidence(
            evidence: Evidence(type: .snpReport, bytes: bytes), eventLog: nil, certificates: certificates)
    }

    /// One `{"cert_type": "VCEK" | {"OTHER": "<guid>"}, "data": [bytes]}` entry of an SEV-SNP `cert_chain`.
    private static func certificate(_ entry: JSONValue, index: Int) throws(AttestationError) -> CoCoCertificate {
        let what = "cert_chain entry \(index)"
        guard let object = entry.objectValue, let type = object["cert_type"], let data = object["data"] else {
            throw AttestationError(.malformed, "\(what) is not an object with cert_type and data")
        }
        let kind: String
        switch type {
        case .string(let name) where ["ARK", "ASK", "VCEK", "VLEK", "CRL", "Empty"].contains(name):
            kind = name
        case .object(let other) where other.count == 1:
            guard let guid = other["OTHER"]?.stringValue, isGUID(guid) else {
                throw AttestationError(
                    .malformed, "\(what) has a cert_type that is neither known nor {\"OTHER\": <GUID>}")
            }
            kind = guid
        default:
            throw AttestationError(.malformed, "\(what) has a cert_type that is neither known nor {\"OTHER\": <GUID>}")
        }
        return CoCoCertificate(kind: kind, bytes: try AgentSNPReport.byteArray(data, what: "the \(what) data"))
    }

    /// Checks the agent's answer to an event record: `{"success": "true"}`, or `"false"` with a message.
    static func checkEventAnswer(_ body: [UInt8]) throws(AttestationError) {
        let object = try jsonObject(body, what: "event record answer")
        if object["success"]?.stringValue == "true" { return }
        guard object["success"]?.stringValue == "false" else {
            throw AttestationError(.malformed, "the attestation agent's answer to an event record has no \"success\"")
        }
        let message = object["message"]?.stringValue.map { printable(Array($0.utf8)) } ?? "no reason given"
        let hint =
            message.contains("eventlog recording")
            ? " (turn it on in the agent's configuration, aa.toml in the pod's initdata: [eventlog_config] "
                + "enable_eventlog = true)" : ""
        throw AttestationError(.providerFailed, "the attestation agent did not record the event: \(message)\(hint)")
    }

    /// Refuses evidence whose report data is not `runtimeData` padded with zeros to 64 bytes.
    static func checkReportData(of evidence: Evidence, runtimeData: [UInt8]) throws(AttestationError) {
        let reportData: [UInt8]
        switch evidence.type {
        case .tdxQuote:
            reportData = try TDXQuote(bytes: evidence.bytes).body.reportData
        case .snpReport:
            reportData = try SNPReport(bytes: evidence.bytes).reportData
        case .simulated:
            throw AttestationError(.unsupportedFormat, "the attestation agent does not serve simulated evidence")
        }
        let expected = runtimeData + [UInt8](repeating: 0, count: Self.maximumRuntimeData - runtimeData.count)
        guard reportData == expected else {
            throw AttestationError(
                .reportDataMismatch,
                "the attestation agent's evidence carries report data \(Hex.encode(reportData.prefix(16)))…, not the "
                    + "runtime data asked for (\(Hex.encode(expected.prefix(16)))…); an agent older than "
                    + "guest-components 0.21 ignores encoding=base64")
        }
    }

    // MARK: Encoding helpers

    private static func jsonObject(_ body: [UInt8], what: String) throws(AttestationError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw AttestationError(.malformed, "the attestation agent's \(what) is not JSON: \(error)")
        }
        guard let object = value.objectValue else {
            throw AttestationError(
                .malformed, "the attestation agent's \(what) is \(value.kindName), not a JSON object")
        }
        return object
    }

    private static func base64(_ text: String, what: String) throws(AttestationError) -> [UInt8] {
        guard let data = Data(base64Encoded: text) else {
            throw AttestationError(.malformed, "\(what) is not standard base64")
        }
        return Array(data)
    }

    /// Base64url without padding (RFC 4648 section 5), as the agent decodes `runtime_data`.
    static func base64URL(_ bytes: [UInt8]) -> String {
        let standard = Data(bytes).base64EncodedString()
        return String(
            standard.compactMap { character -> Character? in
                switch character {
                case "+": "-"
                case "/": "_"
                case "=": nil
                default: character
                }
            })
    }

    private static func isGUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            let isHex = (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
            guard [8, 13, 18, 23].contains(index) ? byte == 0x2D : isHex else { return false }
        }
        return true
    }

    /// At most 200 bytes of an answer as printable text, for messages.
    static func printable(_ bytes: [UInt8]) -> String {
        AgentSNPReport.printable(String(decoding: bytes, as: UTF8.self))
    }
}
