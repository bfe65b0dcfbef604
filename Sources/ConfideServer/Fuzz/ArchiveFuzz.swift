import ConfideRuntime
import Crypto

extension ServerFuzz {
    /// The key ``modelArchive(_:)`` decrypts with, so that a fuzzer can reach the payload of an encrypted archive.
    static let archiveKey = SymmetricKey(data: [UInt8](repeating: 0x5A, count: 32))

    /// Reads `bytes` as a model archive (its header, then the whole archive, plain or decrypted with a fixed key) and
    /// as a key name. A key name the header or ``KeyName`` accepts must hold only the key-name grammar's characters.
    public static func modelArchive(_ bytes: [UInt8]) {
        if let header = try? ModelArchive.header(of: bytes), let keyName = header.keyName {
            checkKeyName(keyName)
        }
        _ = try? ModelArchive(decoding: bytes, key: archiveKey)
        if let keyName = try? KeyName(String(decoding: bytes, as: UTF8.self)) {
            checkKeyName(keyName)
        }
    }

    private static func checkKeyName(_ name: KeyName) {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/".utf8)
        precondition(
            name.rawValue.utf8.allSatisfy(allowed.contains), "accepted the key name \(name.rawValue.debugDescription)")
        precondition(!name.segments.contains { $0 == "." || $0 == ".." }, "accepted a '.' or '..' segment")
        precondition(
            (1...KeyName.maximumSegments).contains(name.segments.count), "accepted \(name.segments.count) segments")
    }
}
