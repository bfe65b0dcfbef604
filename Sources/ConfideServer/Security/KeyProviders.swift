import ConfideHTTPClient
import ConfideJSON
public import ConfideRuntime
public import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// Supplies the 32-byte keys that encrypted model archives and the shared gateway key name.
///
/// A provider receives only a ``KeyName``, a name already checked against the key-name grammar, so that no
/// character of a name (from an archive's header or the command line) can change the file or URL it is fetched from.
public protocol KeyProvider: Sendable {
    /// The key with the given name. Blocks the calling thread; never call it on an event loop.
    func key(named name: KeyName) throws(KeyProviderError) -> SymmetricKey
}

/// Why a key could not be had.
public struct KeyProviderError: Error, Sendable, CustomStringConvertible {
    /// What happened, for people (never the key).
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Keys in local files, for development: the key named `a/b/c` is the file `<directory>/a/b/c`, holding
/// 32 raw bytes or 64 hex digits. The key-name grammar keeps every key file inside `directory`.
public struct KeyFileProvider: KeyProvider {
    /// The folder holding key files.
    public let directory: String

    /// Reads keys from `directory`.
    public init(directory: String) {
        self.directory = directory
    }

    public func key(named name: KeyName) throws(KeyProviderError) -> SymmetricKey {
        let path = name.segments.reduce(directory) { ($0 as NSString).appendingPathComponent(String($1)) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyProviderError("no key file '\(name)' in \(directory)")
        }
        return try Self.key(from: Array(data), name: name)
    }

    /// A 32-byte key from raw bytes or 64 hex digits (surrounding whitespace ignored).
    static func key(from bytes: [UInt8], name: KeyName) throws(KeyProviderError) -> SymmetricKey {
        if bytes.count == 32 { return SymmetricKey(data: bytes) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count == 64 else {
            throw KeyProviderError("key '\(name)' must be 32 bytes or 64 hex digits, not \(bytes.count) bytes")
        }
        guard let key = Hex.decode(text) else {
            throw KeyProviderError("key '\(name)' holds a character that is not a hex digit")
        }
        return SymmetricKey(data: key)
    }
}

/// Keys from the Confidential Containers key broker, as reached from inside a confidential pod: the
/// Confidential Data Hub's resource endpoint, `GET http://127.0.0.1:8006/cdh/resource/<repository>/<type>/<tag>`,
/// which releases the resource only after the pod's attestation. A key named `repo/type/tag` (a ``KeyName`` of exactly
/// three segments, so the URL path holds nothing but the name's own characters) is that resource.
public struct ConfidentialDataHubProvider: KeyProvider {
    /// The endpoint's host.
    public let host: String
    /// The endpoint's port.
    public let port: Int
    /// How long a fetch may take, in seconds.
    public let timeoutSeconds: Int64

    /// Uses the endpoint at `host:port` (the Confidential Data Hub's default, 127.0.0.1:8006).
    public init(host: String = "127.0.0.1", port: Int = 8006, timeoutSeconds: Int64 = 10) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    public func key(named name: KeyName) throws(KeyProviderError) -> SymmetricKey {
        let segments = name.segments
        guard segments.count == 3 else {
            throw KeyProviderError("key '\(name)' must name a key broker resource as <repository>/<type>/<tag>")
        }
        let path = "/cdh/resource/" + segments.joined(separator: "/")
        let response: ClientResponse
        do {
            let connection = try HTTPConnection.connecting(host: host, port: port).wait()
            defer { connection.closeNow() }
            let request = ClientRequest(method: .GET, uri: path)
            let pending = connection.sending(request)
            let timer = pending.eventLoop.scheduleTask(in: .seconds(timeoutSeconds)) { connection.closeNow() }
            defer { timer.cancel() }
            response = try pending.wait()
        } catch {
            throw KeyProviderError(
                "the Confidential Data Hub at \(host):\(port) did not answer for '\(name)': \(error)")
        }
        guard response.status == .ok else {
            throw KeyProviderError("the Confidential Data Hub refused '\(name)': HTTP \(response.status.code)")
        }
        return try KeyFileProvider.key(from: Array(response.body.readableBytesView), name: name)
    }
}
