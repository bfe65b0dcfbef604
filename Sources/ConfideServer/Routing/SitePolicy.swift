import ConfideSDK
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps web pages from using a listener through the user's browser.
///
/// - On a listener bound to loopback, a `Host` field must name loopback (`localhost`, `127.x.x.x`, `[::1]`), so a
///   page that rebinds its own DNS name to 127.0.0.1 cannot read answers.
/// - A request with an `Origin` field must come from the listener's own origin (`http://` or `https://` and the
///   `Host` it was sent to); Confide grants no cross-origin access, so any other origin (including `null`) is
///   refused.
/// - A call that changes the server's state must not carry a content type a browser may send cross-site
///   without a preflight (`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`).
public struct SitePolicy: Sendable {
    /// Whether the listener is bound to loopback, where `Host` is checked.
    public let loopback: Bool

    /// The policy for a listener bound to `host`.
    public init(boundTo host: String) {
        loopback = Self.isLoopback(host)
    }

    /// Refuses a request the policy does not allow: 403 for a foreign host or origin, 415 for a state change in
    /// a content type browsers send cross-site.
    public func check(_ request: ServerRequest, _ route: Route) throws(APIError) {
        let host = request.headers.first(name: "Host")
        if loopback, let host, !Self.isLoopback(Self.hostname(ofAuthority: host)) {
            throw APIError(
                .forbidden,
                "this listener is bound to loopback and does not answer for host '\(Router.printable(host))'")
        }
        if let origin = request.headers.first(name: "Origin") {
            let sameOrigin = host.map { origin == "http://\($0)" || origin == "https://\($0)" } ?? false
            guard sameOrigin else {
                throw APIError(.forbidden, "cross-origin requests are refused (Origin '\(Router.printable(origin))')")
            }
        }
        if route.changesState, let type = request.headers.first(name: "Content-Type").flatMap(ContentType.init),
            Self.browserSimpleTypes.contains(type.mediaType)
        {
            throw APIError(
                .unsupportedMediaType,
                "calls that change the server's state are refused with Content-Type \(type.mediaType): "
                    + "send no body, or Content-Type: application/json")
        }
    }

    /// The content types a browser sends cross-site without asking first (CORS "simple" requests).
    static let browserSimpleTypes: Set<String> = [
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    ]

    /// The host name of an authority (`host[:port]`, `[v6][:port]`), without brackets and port.
    static func hostname(ofAuthority authority: String) -> String {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return authority }
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// Whether `host` is a loopback address: `localhost`, an IPv4 address in 127.0.0.0/8, `::1` or an IPv4-mapped
    /// loopback address. Names are not resolved: `127.0.0.1.example.com` is not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var bytes = [UInt8](repeating: 0, count: 16)
        if bytes.withUnsafeMutableBytes({ inet_pton(AF_INET, host, $0.baseAddress) }) == 1 { return bytes[0] == 127 }
        guard bytes.withUnsafeMutableBytes({ inet_pton(AF_INET6, host, $0.baseAddress) }) == 1 else { return false }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }
}
