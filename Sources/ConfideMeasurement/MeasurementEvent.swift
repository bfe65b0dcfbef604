import ConfideJSON
import Crypto

/// One entry of the measurement log: something that decides who sees plaintext or what is computed on it, recorded
/// before it takes effect.
///
/// An event is a kind, a descriptor (UTF-8 JSON text naming the subject: a file, a plugin, a model version, a
/// setting) and the SHA-384 digest of the subject's bytes. What is extended into a register is ``eventDigest``:
///
/// ```
/// SHA-384( "confide-measurement-event-v1" || 0x00
///          || u16be(kind) || u32be(len(descriptor)) || descriptor || u32be(len(digest)) || digest )
/// ```
public struct MeasurementEvent: Sendable, Hashable {
    /// What an event records.
    public enum Kind: UInt16, Sendable, Hashable, CaseIterable {
        /// The server executable, measured at start: descriptor `{"path"}`.
        case executable = 1
        /// A plugin file about to be opened with `dlopen`, before any of its code runs: descriptor `{"file"}`.
        case pluginFile = 2
        /// A plugin the loader accepted, before it is used: descriptor `{"name","version","abi","kind","file"}`.
        case plugin = 3
        /// A model version about to be loaded: descriptor `{"model","version","handler","source"}`.
        case modelLoaded = 4
        /// A model version unloaded: the same descriptor as when it was loaded.
        case modelUnloaded = 5
        /// A setting that decides access: descriptor `{"name","value"}`; the digest is SHA-384 of the value's
        /// UTF-8 bytes, or of the file the value names (the token file).
        case setting = 6

        /// The kind's name in the served log.
        public var name: String {
            switch self {
            case .executable: "executable"
            case .pluginFile: "plugin-file"
            case .plugin: "plugin"
            case .modelLoaded: "model-loaded"
            case .modelUnloaded: "model-unloaded"
            case .setting: "setting"
            }
        }

        /// The kind with the given served name.
        public init?(name: String) {
            guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = kind
        }
    }

    /// The domain-separation label of ``eventDigest``.
    public static let label: [UInt8] = Array("confide-measurement-event-v1".utf8)

    /// What the event records.
    public let kind: Kind
    /// The subject's description: UTF-8 JSON text, hashed as these exact bytes.
    public let descriptor: [UInt8]
    /// The SHA-384 digest of the subject (48 bytes).
    public let digest: [UInt8]

    /// Creates an event from its parts as recorded or as received.
    public init(kind: Kind, descriptor: [UInt8], digest: [UInt8]) {
        self.kind = kind
        self.descriptor = descriptor
        self.digest = digest
    }

    /// Creates an event whose descriptor is the JSON object of `fields`, in their order.
    public init(kind: Kind, fields: KeyValuePairs<String, String>, digest: [UInt8]) {
        var object = JSONObject()
        for (key, value) in fields { object[key] = .string(value) }
        self.init(kind: kind, descriptor: JSONValue.object(object).serialized, digest: digest)
    }

    /// The digest extended into a register for this event (48 bytes).
    public var eventDigest: [UInt8] {
        var hasher = SHA384()
        hasher.update(data: Self.label)
        hasher.update(data: [0])
        hasher.update(data: Framing.u16(self.kind.rawValue))
        hasher.update(data: Framing.u32(self.descriptor.count))
        hasher.update(data: self.descriptor)
        hasher.update(data: Framing.u32(self.digest.count))
        hasher.update(data: self.digest)
        return Array(hasher.finalize())
    }

    /// The descriptor's string members, or an empty dictionary when it is not a JSON object of strings.
    public var fields: [String: String] {
        guard let object = (try? JSONParser.parse(self.descriptor))?.objectValue else { return [:] }
        var fields: [String: String] = [:]
        for (key, value) in object.orderedMembers {
            if let text = value.stringValue { fields[key] = text }
        }
        return fields
    }
}

/// Big-endian length and integer encodings used in digests.
package enum Framing {
    /// A 16-bit big-endian integer.
    package static func u16(_ value: UInt16) -> [UInt8] {
        [UInt8(value >> 8), UInt8(value & 0xFF)]
    }

    /// A 32-bit big-endian length; lengths are bounded by the callers (descriptors, digests, key lists).
    package static func u32(_ count: Int) -> [UInt8] {
        let value = UInt32(clamping: count)
        return [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A 64-bit big-endian length.
    package static func u64(_ count: Int) -> [UInt8] {
        let value = UInt64(clamping: count)
        return (0..<8).reversed().map { UInt8((value >> (UInt64($0) * 8)) & 0xFF) }
    }
}
