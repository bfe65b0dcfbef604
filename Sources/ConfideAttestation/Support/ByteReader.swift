/// A bounds-checked little-endian reader over untrusted bytes: every read either succeeds or throws.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int
    private let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.offset = 0
        self.what = what
    }

    var remaining: Int {
        self.bytes.count - self.offset
    }

    mutating func read(_ count: Int, _ field: String) throws(AttestationError) -> [UInt8] {
        guard count >= 0, count <= self.remaining else {
            throw AttestationError(
                .truncated,
                "\(self.what): \(field) needs \(count) bytes at offset \(self.offset), \(self.remaining) remain"
            )
        }
        let start = self.offset
        self.offset += count
        return Array(self.bytes[start..<self.offset])
    }

    mutating func skip(_ count: Int, _ field: String) throws(AttestationError) {
        _ = try self.read(count, field)
    }

    mutating func readUInt16(_ field: String) throws(AttestationError) -> UInt16 {
        UInt16(truncatingIfNeeded: try self.readInteger(2, field))
    }

    mutating func readUInt32(_ field: String) throws(AttestationError) -> UInt32 {
        UInt32(truncatingIfNeeded: try self.readInteger(4, field))
    }

    mutating func readUInt64(_ field: String) throws(AttestationError) -> UInt64 {
        try self.readInteger(8, field)
    }

    private mutating func readInteger(_ size: Int, _ field: String) throws(AttestationError) -> UInt64 {
        let raw = try self.read(size, field)
        var value: UInt64 = 0
        for byte in raw.reversed() {
            value = value << 8 | UInt64(byte)
        }
        return value
    }
}
