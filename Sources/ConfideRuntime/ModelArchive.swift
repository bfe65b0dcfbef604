public import Crypto
import Foundation

/// A model packed into one file (`*.cfa`): its `model.json` and artifacts, optionally encrypted with
/// AES-256-GCM under a named key, so that weights can be stored and shipped encrypted and decrypted
/// only in the memory of an attested server.
///
/// Layout (integers big-endian):
///
///     "CONFIDEA"          8 bytes, magic
///     version             1 byte (1)
///     flags               1 byte (bit 0: encrypted)
///     key name length     2 bytes, then the key name (UTF-8; empty when not encrypted)
///     nonce               12 bytes, only when encrypted
///     payload length      8 bytes, then the payload
///     tag                 16 bytes, only when encrypted
///
/// Everything before the payload is authenticated as associated data. The (decrypted) payload is a
/// sequence of files: path length (2 bytes), path (UTF-8, relative, no `..`), size (8 bytes), bytes.
public struct ModelArchive: Sendable {
    /// The files, by path relative to the model folder.
    public let files: [String: [UInt8]]

    /// The key name the archive is encrypted under, or `nil` for a plain archive.
    public let keyName: String?

    static let magic = Array("CONFIDEA".utf8)
    static let maximumFiles = 10_000

    /// Creates an archive of files.
    public init(files: [String: [UInt8]], keyName: String? = nil) {
        self.files = files
        self.keyName = keyName
    }

    /// Packs every regular file under `folder` (recursively; hidden files skipped), and the file behind each
    /// symbolic link to one (e.g. a model-store entry linking to a download cache).
    public init(packing folder: String, keyName: String? = nil) throws(ArchiveError) {
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw ArchiveError("cannot read \(folder)")
        }
        var files: [String: [UInt8]] = [:]
        for case let url as URL in walker {
            let target = url.resolvingSymlinksInPath()
            guard (try? target.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let path = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
            guard let data = FileManager.default.contents(atPath: target.path) else { throw ArchiveError("cannot read \(url.path)") }
            files[path] = Array(data)
        }
        guard files["model.json"] != nil else { throw ArchiveError("\(folder) has no model.json") }
        self.init(files: files, keyName: keyName)
    }

    /// The archive's bytes; encrypted with `key` (32 bytes) when given, which needs a key name.
    public func encoded(key: SymmetricKey? = nil) throws(ArchiveError) -> [UInt8] {
        var payload: [UInt8] = []
        for path in files.keys.sorted() {
            let name = Array(path.utf8)
            guard name.count <= Int(UInt16.max) else { throw ArchiveError("path too long: \(path)") }
            payload.append(contentsOf: Self.bigEndian(UInt16(name.count)))
            payload.append(contentsOf: name)
            payload.append(contentsOf: Self.bigEndian(UInt64(files[path]?.count ?? 0)))
            payload.append(contentsOf: files[path] ?? [])
        }
        let encrypted = key != nil
        guard !encrypted || (keyName.map { !$0.isEmpty } ?? false) else { throw ArchiveError("an encrypted archive needs a key name") }
        guard key.map({ $0.bitCount == 256 }) ?? true else { throw ArchiveError("the key must be 32 bytes (AES-256)") }
        let name = Array((encrypted ? keyName ?? "" : "").utf8)
        var header = Self.magic + [1, encrypted ? 1 : 0] + Self.bigEndian(UInt16(name.count)) + name
        guard let key else { return header + Self.bigEndian(UInt64(payload.count)) + payload }
        let nonce = AES.GCM.Nonce()
        header += Array(nonce) + Self.bigEndian(UInt64(payload.count))
        do {
            let sealed = try AES.GCM.seal(payload, using: key, nonce: nonce, authenticating: header)
            return header + Array(sealed.ciphertext) + Array(sealed.tag)
        } catch {
            throw ArchiveError("encryption failed")
        }
    }

    /// The key name of an archive, read from its header without decrypting (`nil` when plain).
    public static func keyName(of bytes: [UInt8]) throws(ArchiveError) -> String? {
        var reader = Reader(bytes)
        return try readHeader(&reader).keyName
    }

    /// Reads an archive, decrypting it in memory with `key` when it is encrypted. A tampered,
    /// truncated or wrongly keyed archive is an error.
    public init(decoding bytes: [UInt8], key: SymmetricKey? = nil) throws(ArchiveError) {
        var reader = Reader(bytes)
        let header = try Self.readHeader(&reader)
        let length = try reader.uint64("payload length")
        var payload: [UInt8]
        if header.keyName != nil {
            guard let key else { throw ArchiveError("the archive is encrypted under key '\(header.keyName ?? "")' and no key was given") }
            guard key.bitCount == 256 else { throw ArchiveError("the key must be 32 bytes (AES-256)") }
            guard length <= UInt64(reader.remaining), reader.remaining - Int(length) == 16 else {
                throw ArchiveError("truncated or oversized encrypted payload")
            }
            let ciphertext = try reader.bytes(Int(length), "payload")
            let tag = try reader.bytes(16, "tag")
            do {
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: header.nonce), ciphertext: ciphertext, tag: tag)
                payload = Array(try AES.GCM.open(box, using: key, authenticating: Array(bytes.prefix(header.end))))
            } catch {
                throw ArchiveError("the archive does not decrypt with key '\(header.keyName ?? "")': wrong key, or tampered")
            }
        } else {
            guard length == UInt64(reader.remaining) else { throw ArchiveError("truncated or oversized payload") }
            payload = try reader.bytes(Int(length), "payload")
        }
        var files: [String: [UInt8]] = [:]
        var entries = Reader(payload)
        while entries.remaining > 0 {
            guard files.count < Self.maximumFiles else { throw ArchiveError("more than \(Self.maximumFiles) files") }
            let nameLength = Int(try entries.uint16("path length"))
            guard let path = String(validating: try entries.bytes(nameLength, "path"), as: UTF8.self),
                  !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains("..")
            else { throw ArchiveError("a file has an invalid path") }
            let size = try entries.uint64("file size")
            guard size <= UInt64(entries.remaining) else { throw ArchiveError("file '\(path)' runs past the end") }
            guard files.updateValue(try entries.bytes(Int(size), "file"), forKey: path) == nil else {
                throw ArchiveError("file '\(path)' appears twice")
            }
        }
        guard files["model.json"] != nil else { throw ArchiveError("the archive holds no model.json") }
        self.init(files: files, keyName: header.keyName)
    }

    private static func readHeader(_ reader: inout Reader) throws(ArchiveError) -> (keyName: String?, nonce: [UInt8], end: Int) {
        guard try reader.bytes(8, "magic") == magic else { throw ArchiveError("not a Confide model archive") }
        let version = try reader.bytes(1, "version")[0]
        guard version == 1 else { throw ArchiveError("unsupported archive version \(version)") }
        let flags = try reader.bytes(1, "flags")[0]
        guard flags & ~1 == 0 else { throw ArchiveError("unknown archive flags \(flags)") }
        let nameLength = Int(try reader.uint16("key name length"))
        guard let name = String(validating: try reader.bytes(nameLength, "key name"), as: UTF8.self) else {
            throw ArchiveError("the key name is not UTF-8")
        }
        guard flags & 1 == 1 else {
            guard name.isEmpty else { throw ArchiveError("a plain archive names a key") }
            return (nil, [], reader.offset + 8)
        }
        guard !name.isEmpty else { throw ArchiveError("an encrypted archive must name its key") }
        let nonce = try reader.bytes(12, "nonce")
        return (name, nonce, reader.offset + 8)
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// A problem with a model archive.
public struct ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for people.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A bounds-checked reader over an archive's bytes.
private struct Reader {
    let data: [UInt8]
    var offset = 0

    init(_ data: [UInt8]) {
        self.data = data
    }

    var remaining: Int { data.count - offset }

    mutating func bytes(_ count: Int, _ what: String) throws(ArchiveError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw ArchiveError("truncated archive: \(what) runs past the end") }
        defer { offset += count }
        return Array(data[offset..<(offset + count)])
    }

    mutating func uint16(_ what: String) throws(ArchiveError) -> UInt16 {
        try bytes(2, what).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func uint64(_ what: String) throws(ArchiveError) -> UInt64 {
        try bytes(8, what).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
