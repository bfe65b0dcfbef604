/// Writes the parts of a known-length binary HTTP message (RFC 9292 §3.1).
struct BinaryHTTPEncoder {
    private var writer = ByteWriter()

    init(framing: BinaryHTTPFraming) throws(EnvelopeError) {
        try self.writer.writeVarInt(framing.rawValue)
    }

    /// The encoded message.
    var bytes: [UInt8] { self.writer.bytes }

    /// Writes one control data string after checking every byte with `isAllowed`.
    mutating func writeControlData(
        _ value: String,
        _ what: String,
        allowsEmpty: Bool,
        isAllowed: (UInt8) -> Bool
    ) throws(EnvelopeError) {
        let raw = Array(value.utf8)
        guard allowsEmpty || !raw.isEmpty else {
            throw .invalidArgument(reason: "\(what) is empty")
        }
        guard raw.allSatisfy(isAllowed) else {
            throw .invalidArgument(reason: "\(what) of \(raw.count) bytes holds invalid characters")
        }
        try self.writer.writeVarIntPrefixedBytes(raw)
    }

    /// Writes a status code.
    mutating func writeStatus(_ status: Int) throws(EnvelopeError) {
        try self.writer.writeVarInt(status)
    }

    /// Writes a known-length header or trailer section.
    mutating func writeFieldSection(_ fields: [BinaryHTTPField]) throws(EnvelopeError) {
        var section = ByteWriter()
        for field in fields {
            try section.writeVarIntPrefixedBytes(try field.encodedName())
            try section.writeVarIntPrefixedBytes(try field.encodedValue())
        }
        try self.writer.writeVarIntPrefixedBytes(section.bytes)
    }

    /// Writes known-length content.
    mutating func writeContent(_ content: [UInt8]) throws(EnvelopeError) {
        try self.writer.writeVarIntPrefixedBytes(content)
    }
}
