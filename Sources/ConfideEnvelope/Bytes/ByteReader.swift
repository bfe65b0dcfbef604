/// A bounds-checked reader over untrusted bytes.
///
/// Every read either returns a value and advances, or throws ``EnvelopeError/Code/truncatedInput`` and leaves the
/// reader where it was. Nothing traps on short or hostile input.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]

    /// The offset of the next byte to read.
    public private(set) var offset: Int

    /// Creates a reader positioned at the first byte.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// How many bytes are left to read.
    public var remainingCount: Int { self.bytes.count - self.offset }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { self.offset >= self.bytes.count }

    /// Reads one byte.
    public mutating func readUInt8() throws(EnvelopeError) -> UInt8 {
        guard self.offset < self.bytes.count else {
            throw .truncatedInput(reason: "needed 1 byte at offset \(self.offset), none left")
        }
        let value = self.bytes[self.offset]
        self.offset += 1
        return value
    }

    /// Reads a big-endian 16-bit integer.
    public mutating func readUInt16() throws(EnvelopeError) -> UInt16 {
        UInt16(truncatingIfNeeded: try self.readBigEndian(byteCount: 2))
    }

    /// Reads a big-endian 32-bit integer.
    public mutating func readUInt32() throws(EnvelopeError) -> UInt32 {
        UInt32(truncatingIfNeeded: try self.readBigEndian(byteCount: 4))
    }

    /// Reads a big-endian 64-bit integer.
    public mutating func readUInt64() throws(EnvelopeError) -> UInt64 {
        try self.readBigEndian(byteCount: 8)
    }

    /// Reads a QUIC variable-length integer (RFC 9000 §16): 1, 2, 4 or 8 bytes, the length in the top two bits.
    public mutating func readVarInt() throws(EnvelopeError) -> UInt64 {
        guard self.offset < self.bytes.count else {
            throw .truncatedInput(reason: "needed a variable-length integer at offset \(self.offset), none left")
        }
        let byteCount = 1 << Int(self.bytes[self.offset] >> 6)
        let raw = try self.readBigEndian(byteCount: byteCount)
        let mask = (UInt64(1) << UInt64(byteCount * 8 - 2)) - 1
        return raw & mask
    }

    /// Reads `count` bytes.
    public mutating func readBytes(count: Int) throws(EnvelopeError) -> [UInt8] {
        guard count >= 0, count <= self.remainingCount else {
            throw .truncatedInput(
                reason: "needed \(count) bytes at offset \(self.offset), \(self.remainingCount) left"
            )
        }
        let slice = self.bytes[self.offset..<(self.offset + count)]
        self.offset += count
        return Array(slice)
    }

    /// Reads a QUIC variable-length integer and then that many bytes, refusing lengths above `maximumLength`.
    public mutating func readVarIntPrefixedBytes(maximumLength: Int = .max) throws(EnvelopeError) -> [UInt8] {
        let start = self.offset
        let length = try self.readVarInt()
        guard length <= UInt64(max(0, maximumLength)) else {
            self.offset = start
            throw .invalidArgument(reason: "length \(length) at offset \(start) exceeds the limit \(maximumLength)")
        }
        do throws(EnvelopeError) {
            return try self.readBytes(count: Int(length))
        } catch {
            self.offset = start
            throw error
        }
    }

    /// Reads a big-endian 16-bit length and then that many bytes.
    public mutating func readUInt16PrefixedBytes() throws(EnvelopeError) -> [UInt8] {
        let start = self.offset
        let length = try self.readUInt16()
        do throws(EnvelopeError) {
            return try self.readBytes(count: Int(length))
        } catch {
            self.offset = start
            throw error
        }
    }

    /// Reads every byte that is left.
    public mutating func readRemainingBytes() -> [UInt8] {
        let rest = Array(self.bytes[min(self.offset, self.bytes.count)...])
        self.offset = self.bytes.count
        return rest
    }

    /// The next byte, without consuming it; `nil` at the end.
    public func peekUInt8() -> UInt8? {
        self.offset < self.bytes.count ? self.bytes[self.offset] : nil
    }

    private mutating func readBigEndian(byteCount: Int) throws(EnvelopeError) -> UInt64 {
        guard byteCount <= self.remainingCount else {
            throw .truncatedInput(
                reason: "needed \(byteCount) bytes at offset \(self.offset), \(self.remainingCount) left"
            )
        }
        var value: UInt64 = 0
        for index in self.offset..<(self.offset + byteCount) {
            value = (value << 8) | UInt64(self.bytes[index])
        }
        self.offset += byteCount
        return value
    }
}
