import ConfideAttestation
import ConfideClient
import ConfideServer
import ConfideServerTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// Evidence that is always the same shared TDX quote, whatever report data is asked for.
struct FixedQuoteProvider: EvidenceProvider {
    let quote: [UInt8]
    var evidenceType: EvidenceType { .tdxQuote }
    var isInsecure: Bool { false }

    func evidence(reportData: [UInt8]) async throws(AttestationError) -> Evidence {
        Evidence(type: .tdxQuote, bytes: quote)
    }
}

/// A PCCS answering from the shared collateral of tdx-quote-v4-b, as Intel's API version 4 shapes its answers.
final class FakePCCS: Sendable {
    let collateral: [String: String]
    let calls = Mutex<[String]>([])
    let failing: Bool
    /// How many bytes of the TCB Info answer are sent, to cut it short.
    let tcbBodyLimit: Int

    init(failing: Bool = false, tcbBodyLimit: Int = .max) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path("tdx-quote-v4-b.collateral.json")))
        self.collateral = try #require(JSONSerialization.jsonObject(with: data) as? [String: String])
        self.failing = failing
        self.tcbBodyLimit = tcbBodyLimit
    }

    var transport: TDXCollateralFetcher.Transport {
        { url in self.answer(url) }
    }

    private func member(_ name: String) -> String { self.collateral[name] ?? "" }

    private func encoded(_ pem: String) -> String {
        pem.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    func answer(_ url: URL) -> TDXCollateralFetcher.Response {
        let path = url.path + (url.query.map { "?" + $0 } ?? "")
        self.calls.withLock { $0.append(path) }
        if self.failing {
            return .init(status: 404, headers: [:], body: [])
        }
        switch path {
        case "/tdx/certification/v4/tcb?fmspc=B0C06F000000":
            // Members in another order, with spaces and an escaped quote around, as a JSON writer may produce them.
            let body =
                "{ \"note\" : \"a \\\"quoted\\\" {word}\", "
                + "\"signature\" : \"\(member("tcb_info_signature"))\",\n"
                + "  \"tcbInfo\" : \(member("tcb_info")) }"
            return .init(
                status: 200, headers: ["TCB-Info-Issuer-Chain": encoded(member("tcb_info_issuer_chain"))],
                body: Array(body.utf8.prefix(self.tcbBodyLimit)))
        case "/tdx/certification/v4/qe/identity?update=standard":
            let body =
                "{\"enclaveIdentity\":\(member("qe_identity")),"
                + "\"signature\":\"\(member("qe_identity_signature"))\"}"
            return .init(
                status: 200,
                headers: ["SGX-Enclave-Identity-Issuer-Chain": encoded(member("qe_identity_issuer_chain"))],
                body: Array(body.utf8))
        case "/sgx/certification/v4/pckcrl?ca=platform&encoding=der":
            return .init(
                status: 200, headers: ["SGX-PCK-CRL-Issuer-Chain": encoded(member("pck_crl_issuer_chain"))],
                body: Self.bytes(hex: member("pck_crl")))
        case "/sgx/certification/v4/rootcacrl":
            return .init(status: 200, headers: [:], body: Array(member("root_ca_crl").utf8))
        default:
            return .init(status: 404, headers: [:], body: [])
        }
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index < hex.endIndex {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}

/// `--tdx-collateral`: the server serves Intel's collateral with its evidence; `confide attest verify` evaluates
/// the TCB status from it.
@Suite(.enabled(if: AttestationSamples.available, "../shared/testdata/attestation is absent"))
struct TDXCollateralServingTests {
    /// The bytes of a shared sample.
    static func sample(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: AttestationSamples.path(name))))
    }

    @Test func theServerServesItsCollateralWithTheEvidence() async throws {
        let collateral = try Self.sample("tdx-quote-v4-b.collateral.json")
        let server = try await TestServer.start { $0.tdxCollateral = collateral }
        defer { Task { await server.stop() } }
        let document = try await fetchAttestation(server.port, nonce: [UInt8](repeating: 7, count: 32))
        #expect(document.endorsements.tdxCollateral == collateral)
        #expect(document.publicKey == AttestationAPI.simulatedPublicKey(of: server.server.evidenceProvider))
        #expect(document.publicKey != nil)
        _ = try await ObliviousClient.verify(
            document, nonce: [UInt8](repeating: 7, count: 32), policy: simulatedPolicy())
    }

    @Test func collateralFetchedFromAPCCSVerifiesTheQuote() async throws {
        let quoteBytes = try Self.sample("tdx-quote-v4-b.bin")
        let quote = try TDXQuote(bytes: quoteBytes)
        let pccs = try FakePCCS()
        let fetcher = try TDXCollateralFetcher(
            baseURL: "https://pccs.example:8081/sgx/certification/v4/", quote: quote, logger: Logger(label: "test"),
            transport: pccs.transport)
        #expect(fetcher.baseURL == "https://pccs.example:8081")
        #expect(fetcher.pckCA == "platform")
        let json = try await fetcher.fetch()
        #expect(await fetcher.current() == json)
        var policy = AttestationPolicy(expectedReportData: quote.body.reportData)
        policy.validationTime = Date(timeIntervalSince1970: 1_750_377_600)  // 2025-06-20
        let verification = try await TDXQuoteVerifier.verify(
            quote, endorsements: Endorsements(tdxCollateral: json), policy: policy)
        #expect(verification.tcb?.status == .upToDate)
        #expect(pccs.calls.withLock { $0.count } == 4)

        // Due for renewal: the cached collateral is served while it is fetched again in the background.
        #expect(await fetcher.current(at: Date(timeIntervalSince1970: 4_000_000_000)) == json)
        await fetcher.pendingRefresh()?.value
        #expect(pccs.calls.withLock { $0.count } == 8)
    }

    @Test func aTruncatedPCCSAnswerIsRefusedWithoutATrap() async throws {
        let quote = try TDXQuote(bytes: try Self.sample("tdx-quote-v4-b.bin"))
        for limit in stride(from: 0, to: 3_100, by: 31) {
            let pccs = try FakePCCS(tcbBodyLimit: limit)
            let fetcher = try TDXCollateralFetcher(
                baseURL: "http://pccs", quote: quote, logger: Logger(label: "test"), transport: pccs.transport)
            await #expect(throws: AttestationError.self) { try await fetcher.fetch() }
        }
    }

    @Test func aServerFetchesItsCollateralAtStartOrDoesNotStart() async throws {
        let quoteBytes = try Self.sample("tdx-quote-v4-b.bin")
        let pccs = try FakePCCS()
        let server = try await TestServer.start {
            $0.attestation = .provider(FixedQuoteProvider(quote: quoteBytes))
            $0.tdxCollateralURL = "https://pccs.example"
            $0.tdxCollateralTransport = pccs.transport
        }
        defer { Task { await server.stop() } }
        let document = try await fetchAttestation(server.port, nonce: [UInt8](repeating: 1, count: 32))
        let collateral = try TDXCollateral(json: try #require(document.endorsements.tdxCollateral))
        #expect(collateral.tcbInfo.tcbEvaluationDataNumber == 17)

        let failing = try FakePCCS(failing: true)
        let error = await #expect(throws: AttestationError.self) {
            let server = try await TestServer.start {
                $0.attestation = .provider(FixedQuoteProvider(quote: quoteBytes))
                $0.tdxCollateralURL = "https://pccs.example"
                $0.tdxCollateralTransport = failing.transport
            }
            await server.stop()
        }
        #expect(error?.message.contains("answered HTTP 404") == true, "\(error?.message ?? "")")
    }

    @Test func aServerWithUnparsableCollateralDoesNotStart() async throws {
        let error = await #expect(throws: AttestationError.self) {
            let server = try await TestServer.start { $0.tdxCollateral = Array(#"{"tcb_info":"{}"}"#.utf8) }
            await server.stop()
        }
        #expect(error?.code == .malformed)
    }

    @Test func theEndorsingProviderKeepsWhatTheEvidenceCarries() async throws {
        let base = EndorsingEvidenceProvider(
            try SimulatedEvidenceProvider(), endorsements: Endorsements(snpCertificates: [1]))
        let wrapped = EndorsingEvidenceProvider(
            base, endorsements: Endorsements(tdxCollateral: [2], snpCertificates: [3]))
        let evidence = try await wrapped.evidence(reportData: [UInt8](repeating: 0, count: 64))
        #expect(evidence.endorsements == Endorsements(tdxCollateral: [2], snpCertificates: [1]))
        #expect(wrapped.isInsecure)
        #expect(wrapped.evidenceType == .simulated)
    }

    @Test func attestVerifyPrintsTheTCBStatusFromTheCollateral() async throws {
        let upToDate = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--tdx-collateral",
            AttestationSamples.path("tdx-quote-v4-b.collateral.json"), "--at", "2025-06-20T00:00:00Z")
        #expect(upToDate.status == 0, "\(upToDate.output)")
        #expect(upToDate.output.contains("TCB status:   UpToDate (platform UpToDate, TDX module UpToDate"))
        #expect(upToDate.output.contains("advisories:   none"))
        #expect(upToDate.output.contains("QE identity:  matches Intel's QE Identity (TD_QE); ISVSVN"))
        #expect(upToDate.output.contains("collateral:   TCB Info (FMSPC b0c06f000000) signed by"))
        #expect(upToDate.output.contains("verdict:      OK"))

        let expired = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--tdx-collateral",
            AttestationSamples.path("tdx-quote-v4-b.collateral.json"))
        #expect(expired.status != 0)
        #expect(expired.output.contains("REFUSED"))
        #expect(expired.output.contains("(expired)"))

        let outdated = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-outdated.bin"), "--tdx-collateral",
            AttestationSamples.path("tdx-quote-v4-outdated.collateral.json"), "--at", "2026-03-01T00:00:00Z")
        #expect(outdated.status != 0)
        #expect(outdated.output.contains("(noMatchingTCBLevel)"), "\(outdated.output)")

        let missing = try await ConfideCommand.run("attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"))
        #expect(missing.status != 0)
        #expect(missing.output.contains("(missingCollateral)"))

        let badStatus = try await ConfideCommand.run(
            "attest", "verify", AttestationSamples.path("tdx-quote-v4-b.bin"), "--accept-tcb-status", "Revoked")
        #expect(badStatus.status != 0)
        #expect(badStatus.output.contains("--accept-tcb-status Revoked is not one of"))
    }
}
