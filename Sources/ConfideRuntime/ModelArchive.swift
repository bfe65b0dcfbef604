public import Crypto
import Foundation

/// A model packed into one file (`*.cfa`): its `model.json` and artifacts, optionally encrypted with
/// AES-256-GCM under a named key, so that weights can be stored and shipped encrypted and decrypted
/// only in the memory of an attested server. The header names the model and the version the archive
/// belongs to, so that a store refuses an archive put in another model's place.
///
/// Layout, format 2 (integers big-endian, lengths in bytes):
///
///     "CONFIDEA"            8 bytes, magic
///     format                1 byte (2)
///     flags                 1 byte (bit 0: encrypted; the other bits 0)
///     model name length     2 bytes, then the model name (UTF-8, 1-255 bytes, no '/', ':' or control
///                           character, not starting with '.')
///     model version length  2 bytes, then the model version (1-20 ASCII digits)
///     key name length       2 bytes, then the key name (a ``KeyName``; empty when not encrypted)
///     nonce                 12 bytes, only when encrypted
///     payload length        8 bytes, then the payload
///     tag                   16 bytes, only when encrypted
///
/// Everything before the payload (the model name and version included) is authenticated as associated
/// data of an encrypted archive; a plain archive authenticates nothing. The (decrypted) payload is a
/// sequence of files: path length (2 bytes), path (UTF-8, relative, no `..`), size (8 bytes), bytes.
/// Format 1 (no model name nor version) is refused with a message saying how to repack.
public struct ModelArchive: Sendable {
    /// What an archive's header says, readable without a key.
    public struct Header: Sendable, Equatable {
        /// The name of the model the archive belongs to.
        public let model: String
        /// The version of that model the archive holds.
        public let version: String
        /// The key the archive is encrypted under, or `nil` for a plain archive.
        public let keyName: KeyName?

        /// Creates a header's contents.
        public init(model: String, version: String, keyName: KeyName?) {
            self.model = model
            self.version = version
            self.keyName = keyName
        }
    }

    /// The files, by path relative to the model folder.
    public let files: [String: [UInt8]]

    /// The name of the model the archive belongs to.
    public let model: String

    /// The version of the model the archive holds.
    public let version: String

    /// The key name the archive is encrypted under, or `nil` for a plain archive.
    public let keyName: KeyName?

    /// The archive format written and read.
    public static let formatVersion: UInt8 = 2
    static let magic = Array("CONFIDEA".utf8)
    static let maximumFiles = 10_000
    static let maximumModelNameLength = 255
    static let maximumVersionLength = 20

    /// Creates an archive of files belonging to version `version` of the model `model`.
    public init(files: [String: [UInt8]], model: String, version: String = "1", keyName: KeyName? = nil) {
        self.files = files
        self.model = model
        self.version = version
        self.keyName = keyName
    }

    /// Packs every regular file under `folder` (recursively; hidden files skipped), and the file behind each
    /// symbolic link to one (e.g. a model-store entry linking to a download cache), as version `version` of
    /// the model `model`.
    public init(packing folder: String, model: String, version: String = "1", keyName: KeyName? = nil)
        throws(ArchiveError)
    {
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.isRegularFileKey],
                options: [.skipsHiddenFiles])
        else {
            throw ArchiveError("cannot read \(folder)")
        }
        var files: [String: [UInt8]] = [:]
        for case let url as URL in walker {
            let target = url.resolvingSymlinksInPath()
            guard (try? target.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let path = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
            guard let data = FileManager.default.contents(atPath: target.path) else {
                throw ArchiveError("cannot read \(url.path)")
            }
            files[path] = Array(data)
        }
        guard files["model.json"] != nil else { throw ArchiveError("\(folder) has no model.json") }
        self.init(files: files, model: model, version: version, keyName: keyName)
    }

    /// The archive's bytes; encrypted with `key` (32 bytes) when given, which needs a key name.
    public func encoded(key: SymmetricKey? = nil) throws(ArchiveError) -> [UInt8] {
        try Self.checkModel(model, version: version)
        var payload: [UInt8] = []
        for path in files.keys.sorted() {
            let name = Array(path.utf8)
            guard name.count <= Int(UInt16.max) else { throw ArchiveError("path too long: \(path)") }
            payload.append(contentsOf: Self.bigEndian(UInt16(name.count)))
            payload.append(contentsOf: name)
            payload.append(contentsOf: Self.bigEndian(UInt64(files[path]?.count ?? 0)))
            payload.append(contentsOf: files[path] ?? [])
        }
        guard (key == nil) == (keyName == nil) else {
            throw ArchiveError(
                key == nil ? "an archive with a key name needs the key" : "an encrypted archive needs a key name")
        }
        guard key.map({ $0.bitCount == 256 }) ?? true else { throw ArchiveError("the key must be 32 bytes (AES-256)") }
        var header = Self.magic + [Self.formatVersion, key == nil ? 0 : 1]
        for field in [model, version, keyName?.rawValue ?? ""] {
            header += Self.bigEndian(UInt16(field.utf8.count)) + Array(field.utf8)
        }
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

    /// The header of an archive (the model and version it names, and its key name), read without decrypting.
    /// It is authenticated only when the archive is then decoded with its key.
    public static func header(of bytes: [UInt8]) throws(ArchiveError) -> Header {
        var reader = Reader(bytes)
        return try readHeader(&reader).header
    }

    /// Reads an archive, decrypting it in memory with `key` when it is encrypted. A tampered,
    /// truncated or wrongly keyed archive is an error.
    public init(decoding bytes: [UInt8], key: SymmetricKey? = nil) throws(ArchiveError) {
        var reader = Reader(bytes)
        let (header, nonce, end) = try Self.readHeader(&reader)
        let length = try reader.uint64("payload length")
        var payload: [UInt8]
        if let keyName = header.keyName {
            guard let key else {
                throw ArchiveError("the archive is encrypted under key '\(keyName)' and no key was given")
            }
            guard key.bitCount == 256 else { throw ArchiveError("the key must be 32 bytes (AES-256)") }
            guard length <= UInt64(reader.remaining), reader.remaining - Int(length) == 16 else {
                throw ArchiveError("truncated or oversized encrypted payload")
            }
            let ciphertext = try reader.bytes(Int(length), "payload")
            let tag = try reader.bytes(16, "tag")
            do {
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
                payload = Array(try AES.GCM.open(box, using: key, authenticating: Array(bytes.prefix(end))))
            } catch {
                throw ArchiveError("the archive does not decrypt with key '\(keyName)': wrong key, or tampered")
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
        self.init(files: files, model: header.model, version: header.version, keyName: header.keyName)
    }

    /// Reads the header: what it says, the nonce (empty when plain) and where the authenticated part ends.
    private static func readHeader(_ reader: inout Reader) throws(ArchiveError)
        -> (header: Header, nonce: [UInt8], end: Int)
    {
        guard try reader.bytes(8, "magic") == magic else { throw ArchiveError("not a Confide model archive") }
        let format = try reader.uint8("format")
        guard format == formatVersion else {
            guard format == 1 else { throw ArchiveError("unsupported archive format \(format)") }
            throw ArchiveError(
                "archive format 1 does not name the model it belongs to and is no longer read; repack the model's "
                    + "folder with 'confide archive create FOLDER --output NAME.cfa' (format \(formatVersion))")
        }
        let flags = try reader.uint8("flags")
        guard flags & ~1 == 0 else { throw ArchiveError("unknown archive flags \(flags)") }
        let model = try reader.text("model name")
        let version = try reader.text("model version")
        try checkModel(model, version: version)
        let name = try reader.text("key name")
        guard flags & 1 == 1 else {
            guard name.isEmpty else { throw ArchiveError("a plain archive names a key") }
            return (Header(model: model, version: version, keyName: nil), [], reader.offset + 8)
        }
        guard !name.isEmpty else { throw ArchiveError("an encrypted archive must name its key") }
        let keyName: KeyName
        do throws(KeyNameError) {
            keyName = try KeyName(name)
        } catch {
            throw ArchiveError("the archive's key name is refused: \(error.message)")
        }
        let nonce = try reader.bytes(12, "nonce")
        return (Header(model: model, version: version, keyName: keyName), nonce, reader.offset + 8)
    }

    /// Checks a model name and version an archive names (see the layout).
    private static func checkModel(_ model: String, version: String) throws(ArchiveError) {
        let bytes = Array(model.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumModelNameLength, bytes.first != UInt8(ascii: "."),
            !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") })
        else {
            throw ArchiveError(
                "an archive's model name must be 1-\(maximumModelNameLength) bytes without '/', ':' or control "
                    + "characters, not starting with '.'")
        }
        guard !version.isEmpty, version.utf8.count <= maximumVersionLength,
            version.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else {
            throw ArchiveError("an archive's model version must be 1-\(maximumVersionLength) digits")
        }
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

    mutating func uint8(_ what: String) throws(ArchiveError) -> UInt8 {
        try bytes(1, what).first ?? 0
    }

    mutating func uint16(_ what: String) throws(ArchiveError) -> UInt16 {
        try bytes(2, what).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func uint64(_ what: String) throws(ArchiveError) -> UInt64 {
        try bytes(8, what).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A 2-byte length and that many bytes of UTF-8.
    mutating func text(_ what: String) throws(ArchiveError) -> String {
        let length = Int(try uint16("\(what) length"))
        guard let text = String(validating: try bytes(length, what), as: UTF8.self) else {
            throw ArchiveError("the \(what) is not UTF-8")
        }
        return text
    }
}
