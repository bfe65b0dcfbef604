public import ConfideAttestation
import ConfideJSON
public import Foundation
public import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Fetches Intel's collateral for this platform's TDX quotes from a PCCS or Intel's PCS (API version 4) in the JSON
/// form ``Endorsements/tdxCollateral`` holds, and fetches it again before it expires.
///
/// The platform is the one of a quote it produced: the FMSPC and the PCK CA (Platform or Processor) come from the
/// quote's PCK certificate. Nothing fetched is trusted here; clients verify it.
public actor TDXCollateralFetcher {
    /// The answer to one HTTP GET.
    public struct Response: Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The header fields, by lower-case name.
        public var headers: [String: String]
        /// The body.
        public var body: [UInt8]

        /// Creates a response; header names are lower-cased.
        public init(status: Int, headers: [String: String], body: [UInt8]) {
            self.status = status
            self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
            self.body = body
        }
    }

    /// Performs one HTTP GET.
    public typealias Transport = @Sendable (URL) async throws -> Response

    /// The service's base URL, for example `https://api.trustedservices.intel.com` or `https://pccs:8081`.
    public nonisolated let baseURL: String
    /// The platform's FMSPC (6 bytes).
    public nonisolated let fmspc: [UInt8]
    /// The CA that issued the platform's PCK certificate: `platform` or `processor`.
    public nonisolated let pckCA: String

    private let transport: Transport
    private let logger: Logger
    private var cached: (json: [UInt8], refreshAt: Date)?
    private var refreshing: Task<Void, Never>?

    /// Intel's PCS, whose root CA CRL is served apart from the API.
    public static let intelPCS = "https://api.trustedservices.intel.com"
    /// Where Intel publishes the Intel SGX Root CA's CRL (the root certificate's CRL distribution point).
    static let intelRootCACRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
    /// The largest response accepted, in bytes.
    static let maximumResponseSize = 1024 * 1024
    /// How long before the earliest `nextUpdate` the collateral is fetched again.
    static let refreshMargin: TimeInterval = 24 * 3_600
    /// How long after a failed fetch (or a fetch of collateral about to expire) the next try waits.
    static let retryDelay: TimeInterval = 600

    /// A fetcher for the platform that produced `quote`.
    ///
    /// - Throws: ``AttestationError`` when the quote's PCK certificate does not name its platform.
    public init(baseURL: String, quote: TDXQuote, logger: Logger, transport: @escaping Transport = urlSession)
        throws(AttestationError)
    {
        let chain = try PCKCertificateChain(pem: quote.signatureData.pckCertificateChain)
        self.fmspc = try PCKExtension(certificate: chain.leaf).fmspc
        self.pckCA = chain.pckCA
        var base = Substring(baseURL)
        while base.hasSuffix("/") {
            base = base.dropLast()
        }
        for suffix in ["/sgx/certification/v4", "/tdx/certification/v4"] where base.hasSuffix(suffix) {
            base = base.dropLast(suffix.count)
        }
        self.baseURL = String(base)
        self.transport = transport
        self.logger = logger
    }

    /// The collateral fetched last; when it is due for renewal a new fetch starts in the background.
    public func current(at now: Date = Date()) -> [UInt8]? {
        if let cached, now >= cached.refreshAt, self.refreshing == nil {
            // A request for evidence finds the collateral due; the refresh must not hold that request up.
            self.refreshing = Task { await self.refresh() }
        }
        return self.cached?.json
    }

    /// The background fetch in progress, for tests.
    package func pendingRefresh() -> Task<Void, Never>? {
        self.refreshing
    }

    private func refresh() async {
        do {
            _ = try await self.fetch()
        } catch {
            self.logger.warning(
                "fetching TDX collateral failed; serving the previous one", metadata: ["error": "\(error.message)"])
            if let json = self.cached?.json {
                self.cached = (json, Date().addingTimeInterval(Self.retryDelay))
            }
        }
        self.refreshing = nil
    }

    /// Fetches the collateral now, checks that it parses, and keeps it for ``current(at:)``.
    ///
    /// - Throws: ``AttestationError`` naming the URL and what was wrong with its answer.
    @discardableResult
    public func fetch() async throws(AttestationError) -> [UInt8] {
        let fmspc = Hex.encode(self.fmspc).uppercased()
        let tcb = try await self.get("\(self.baseURL)/tdx/certification/v4/tcb?fmspc=\(fmspc)")
        let qe = try await self.get("\(self.baseURL)/tdx/certification/v4/qe/identity?update=standard")
        let crl = try await self.get("\(self.baseURL)/sgx/certification/v4/pckcrl?ca=\(self.pckCA)&encoding=der")
        let rootCRL: [UInt8]
        if self.baseURL.hasPrefix(Self.intelPCS) {
            rootCRL = try await self.get(Self.intelRootCACRL).body
        } else {
            let body = try await self.get("\(self.baseURL)/sgx/certification/v4/rootcacrl").body
            // A PCCS answers with the CRL in hex.
            rootCRL =
                Hex.decode(String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                ?? body
        }
        let collateral: [String: String] = [
            "tcb_info": try Self.member("tcbInfo", of: tcb),
            "tcb_info_signature": try Self.member("signature", of: tcb, string: true),
            "tcb_info_issuer_chain": try Self.header(
                ["tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain"], of: tcb),
            "qe_identity": try Self.member("enclaveIdentity", of: qe),
            "qe_identity_signature": try Self.member("signature", of: qe, string: true),
            "qe_identity_issuer_chain": try Self.header(["sgx-enclave-identity-issuer-chain"], of: qe),
            "pck_crl": Hex.encode(crl.body),
            "pck_crl_issuer_chain": try Self.header(["sgx-pck-crl-issuer-chain"], of: crl),
            "root_ca_crl": Hex.encode(rootCRL),
        ]
        let json: [UInt8]
        do {
            json = Array(try JSONSerialization.data(withJSONObject: collateral, options: [.sortedKeys]))
        } catch {
            throw AttestationError(.malformed, "the fetched TDX collateral does not encode as JSON: \(error)")
        }
        let parsed = try TDXCollateral(json: json)
        let nextUpdate = min(
            parsed.tcbInfo.nextUpdate, parsed.qeIdentity.nextUpdate, parsed.pckCRL.nextUpdate,
            parsed.rootCACRL.nextUpdate)
        let refreshAt = max(
            nextUpdate.addingTimeInterval(-Self.refreshMargin), Date().addingTimeInterval(Self.retryDelay))
        self.cached = (json, refreshAt)
        self.logger.info(
            "fetched TDX collateral",
            metadata: [
                "url": "\(self.baseURL)", "fmspc": "\(fmspc)", "next_update": "\(nextUpdate)",
                "tcb_evaluation_data_number": "\(parsed.tcbInfo.tcbEvaluationDataNumber)",
            ])
        return json
    }

    private func get(_ address: String) async throws(AttestationError) -> Response {
        guard let url = URL(string: address) else {
            throw AttestationError(.invalidArgument, "\(address) is not a URL")
        }
        let response: Response
        do {
            response = try await self.transport(url)
        } catch {
            throw AttestationError(.io, "GET \(address) failed: \(error)")
        }
        guard response.status == 200 else {
            throw AttestationError(.io, "GET \(address) answered HTTP \(response.status)")
        }
        guard response.body.count <= Self.maximumResponseSize else {
            throw AttestationError(.oversized, "GET \(address) answered \(response.body.count) bytes")
        }
        return response
    }

    /// The URL-encoded PEM issuer chain in the first of `names` the response carries.
    private static func header(_ names: [String], of response: Response) throws(AttestationError) -> String {
        guard let value = names.lazy.compactMap({ response.headers[$0] }).first,
            let decoded = value.removingPercentEncoding
        else {
            throw AttestationError(.malformed, "the PCS answer has no \(names[0]) header field")
        }
        return decoded
    }

    /// The exact text of the top-level member `name` of a JSON object (what Intel signs), or, with `string`, the
    /// member's string value.
    static func member(_ name: String, of response: Response, string: Bool = false) throws(AttestationError)
        -> String
    {
        guard let range = JSONMemberScanner.range(of: name, in: response.body) else {
            throw AttestationError(.malformed, "the PCS answer has no \"\(name)\" member")
        }
        let text = String(decoding: response.body[range], as: UTF8.self)
        guard string else {
            return text
        }
        guard let value = try? JSONDecoder().decode(String.self, from: Data(text.utf8)) else {
            throw AttestationError(.malformed, "the PCS answer's \"\(name)\" is not a string")
        }
        return value
    }

    /// Performs a GET with `URLSession`.
    public static let urlSession: Transport = { url in
        let (data, response) = try await URLSession.shared.data(for: URLRequest(url: url))
        var headers: [String: String] = [:]
        for (name, value) in (response as? HTTPURLResponse)?.allHeaderFields ?? [:] {
            if let name = name as? String, let value = value as? String {
                headers[name] = value
            }
        }
        return Response(status: (response as? HTTPURLResponse)?.statusCode ?? 0, headers: headers, body: Array(data))
    }
}

/// Finds the text of a top-level member of a JSON object without decoding it, so that its bytes stay exactly as
/// they were signed. Nesting is counted, not recursed into.
enum JSONMemberScanner {
    /// The range of the value of member `name` of the object `bytes` holds, or `nil`.
    static func range(of name: String, in bytes: [UInt8]) -> Range<Int>? {
        var index = 0
        func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                index += 1
            }
        }
        /// Moves past the string starting at `index`; returns its raw content.
        func skipString() -> ArraySlice<UInt8>? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                return nil
            }
            let start = index + 1
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    index += 1
                    return bytes[start..<(index - 1)]
                default: index += 1
                }
            }
            return nil
        }
        func skipValue() -> Bool {
            guard index < bytes.count else {
                return false
            }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return skipString() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        guard skipString() != nil else {
                            return false
                        }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default:
                        break
                    }
                    index += 1
                }
                return false
            default:
                let start = index
                let ends: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D]
                while index < bytes.count, !ends.contains(bytes[index]) {
                    index += 1
                }
                return index > start
            }
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            return nil
        }
        index += 1
        while true {
            skipSpace()
            guard let key = skipString() else {
                return nil
            }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                return nil
            }
            index += 1
            skipSpace()
            let start = index
            guard skipValue() else {
                return nil
            }
            if key.elementsEqual(name.utf8) {
                return start..<index
            }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else {
                return nil
            }
            index += 1
        }
    }
}
