/// Builds a byte string from big-endian integers, QUIC variable-length integers and length-prefixed slices.
public struct ByteWriter: Sendable {
    /// The largest value a QUIC variable-length integer can carry (2^62 - 1).
    public static let maximumVarInt: UInt64 = (1 << 62) - 1

    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer, reserving room for `capacity` bytes.
    public init(capacity: Int = 0) {
        self.bytes = []
        self.bytes.reserveCapacity(max(0, capacity))
    }

    /// Appends one byte.
    public mutating func writeUInt8(_ value: UInt8) {
        self.bytes.append(value)
    }

    /// Appends a big-endian 16-bit integer.
    public mutating func writeUInt16(_ value: UInt16) {
        self.writeBigEndian(UInt64(value), byteCount: 2)
    }

    /// Appends a big-endian 32-bit integer.
    public mutating func writeUInt32(_ value: UInt32) {
        self.writeBigEndian(UInt64(value), byteCount: 4)
    }

    /// Appends a big-endian 64-bit integer.
    public mutating func writeUInt64(_ value: UInt64) {
        self.writeBigEndian(value, byteCount: 8)
    }

    /// Appends a QUIC variable-length integer in its shortest form; throws when `value` exceeds 2^62 - 1.
    public mutating func writeVarInt(_ value: UInt64) throws(EnvelopeError) {
        switch value {
        case 0..<(1 << 6):
            self.writeUInt8(UInt8(value))
        case (1 << 6)..<(1 << 14):
            self.writeUInt16(UInt16(value) | 0x4000)
        case (1 << 14)..<(1 << 30):
            self.writeUInt32(UInt32(value) | 0x8000_0000)
        case (1 << 30)...Self.maximumVarInt:
            self.writeUInt64(value | 0xC000_0000_0000_0000)
        default:
            throw .invalidArgument(reason: "\(value) does not fit a variable-length integer")
        }
    }

    /// Appends a QUIC variable-length integer; throws when `value` is negative or exceeds 2^62 - 1.
    public mutating func writeVarInt(_ value: Int) throws(EnvelopeError) {
        guard value >= 0 else {
            throw .invalidArgument(reason: "\(value) does not fit a variable-length integer")
        }
        try self.writeVarInt(UInt64(value))
    }

    /// Appends bytes as they are.
    public mutating func writeBytes(_ bytes: some Sequence<UInt8>) {
        self.bytes.append(contentsOf: bytes)
    }

    /// Appends the length of `bytes` as a QUIC variable-length integer, then the bytes.
    public mutating func writeVarIntPrefixedBytes(_ bytes: some Collection<UInt8>) throws(EnvelopeError) {
        try self.writeVarInt(bytes.count)
        self.writeBytes(bytes)
    }

    /// Appends the length of `bytes` as a big-endian 16-bit integer, then the bytes; throws above 65535 bytes.
    public mutating func writeUInt16PrefixedBytes(_ bytes: some Collection<UInt8>) throws(EnvelopeError) {
        guard let length = UInt16(exactly: bytes.count) else {
            throw .invalidArgument(reason: "\(bytes.count) bytes do not fit a 16-bit length")
        }
        self.writeUInt16(length)
        self.writeBytes(bytes)
    }

    private mutating func writeBigEndian(_ value: UInt64, byteCount: Int) {
        for shift in stride(from: (byteCount - 1) * 8, through: 0, by: -8) {
            self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}
