/// Reads the parts of a binary HTTP message (RFC 9292 §3) in order, enforcing ``BinaryHTTPLimits``.
///
/// A section that starts exactly at the end of the input is read as empty, which is how the RFC lets senders
/// truncate trailing empty sections (§3.8). Anything cut short inside a section is malformed.
struct BinaryHTTPDecoder {
    private var reader: ByteReader
    private let limits: BinaryHTTPLimits
    private var framing: BinaryHTTPFraming

    /// Runs `body` over `bytes`, turning truncation into ``EnvelopeError/Code/malformedBinaryHTTP``.
    static func decode<Message>(
        _ bytes: [UInt8],
        limits: BinaryHTTPLimits,
        _ body: (inout BinaryHTTPDecoder) throws(EnvelopeError) -> Message
    ) throws(EnvelopeError) -> Message {
        do throws(EnvelopeError) {
            var reader = ByteReader(bytes)
            let indicator = try reader.readVarInt()
            guard let framing = BinaryHTTPFraming(rawValue: indicator) else {
                throw .malformedBinaryHTTP(reason: "unknown framing indicator \(indicator)")
            }
            var decoder = BinaryHTTPDecoder(reader: reader, limits: limits, framing: framing)
            return try body(&decoder)
        } catch  where error.code == .truncatedInput {
            throw .malformedBinaryHTTP(reason: "message ends early: \(error.reason)")
        }
    }

    /// Whether the message is a request.
    var isRequest: Bool { self.framing.isRequest }

    /// Reads one control data string (method, scheme, authority or path) whose bytes all satisfy `isAllowed`.
    mutating func readControlData(
        _ what: String,
        allowsEmpty: Bool,
        isAllowed: (UInt8) -> Bool
    ) throws(EnvelopeError) -> String {
        let length = try self.reader.readVarInt()
        guard length <= UInt64(clamping: self.limits.maximumControlDataLength) else {
            throw .binaryHTTPLimitExceeded(
                reason: "\(what) of \(length) bytes exceeds \(self.limits.maximumControlDataLength)"
            )
        }
        let raw = try self.reader.readBytes(count: Int(length))
        guard allowsEmpty || !raw.isEmpty else {
            throw .malformedBinaryHTTP(reason: "\(what) is empty")
        }
        guard raw.allSatisfy(isAllowed) else {
            throw .malformedBinaryHTTP(reason: "\(what) of \(raw.count) bytes holds invalid characters")
        }
        return String(decoding: raw, as: UTF8.self)
    }

    /// Reads a response status code: 100 to 599.
    mutating func readStatus() throws(EnvelopeError) -> Int {
        let status = try self.reader.readVarInt()
        guard (100...599).contains(status) else {
            throw .malformedBinaryHTTP(reason: "status code \(status) is outside 100...599")
        }
        return Int(status)
    }

    /// Reads a header or trailer section; empty when the input ends where the section would start.
    mutating func readFieldSection(_ what: String) throws(EnvelopeError) -> [BinaryHTTPField] {
        guard !self.reader.isAtEnd else {
            return []
        }
        let sizeLimit = self.limits.maximumFieldSectionSize
        if self.framing.isKnownLength {
            let length = try self.reader.readVarInt()
            guard length <= UInt64(clamping: sizeLimit) else {
                throw .binaryHTTPLimitExceeded(reason: "\(what) section of \(length) bytes exceeds \(sizeLimit)")
            }
            var section = ByteReader(try self.reader.readBytes(count: Int(length)))
            var fields: [BinaryHTTPField] = []
            while !section.isAtEnd {
                let nameLength = try section.readVarInt()
                let field = try Self.readFieldLine(from: &section, nameLength, what, fields.count, self.limits)
                fields.append(field)
            }
            return fields
        }
        let start = self.reader.offset
        var fields: [BinaryHTTPField] = []
        while true {
            let nameLength = try self.reader.readVarInt()
            guard nameLength > 0 else {
                return fields
            }
            let field = try Self.readFieldLine(from: &self.reader, nameLength, what, fields.count, self.limits)
            fields.append(field)
            guard self.reader.offset - start <= sizeLimit else {
                throw .binaryHTTPLimitExceeded(reason: "\(what) section exceeds \(sizeLimit) bytes")
            }
        }
    }

    /// Reads the content; empty when the input ends where the content would start.
    mutating func readContent() throws(EnvelopeError) -> [UInt8] {
        guard !self.reader.isAtEnd else {
            return []
        }
        if self.framing.isKnownLength {
            let length = try self.reader.readVarInt()
            try self.checkContentSize(length)
            return try self.reader.readBytes(count: Int(length))
        }
        var content: [UInt8] = []
        while true {
            let length = try self.reader.readVarInt()
            guard length > 0 else {
                return content
            }
            try self.checkContentSize(UInt64(content.count) + length)
            content += try self.reader.readBytes(count: Int(length))
        }
    }

    /// Checks that whatever follows the message is zero padding (RFC 9292 §3.8).
    mutating func readPadding() throws(EnvelopeError) {
        let padding = self.reader.readRemainingBytes()
        guard padding.allSatisfy({ $0 == 0 }) else {
            throw .malformedBinaryHTTP(reason: "\(padding.count) bytes after the message are not zero padding")
        }
    }

    /// Reads the rest of a field line whose name length was already read.
    private static func readFieldLine(
        from reader: inout ByteReader,
        _ nameLength: UInt64,
        _ what: String,
        _ fieldCount: Int,
        _ limits: BinaryHTTPLimits
    ) throws(EnvelopeError) -> BinaryHTTPField {
        guard fieldCount < limits.maximumFieldCount else {
            throw .binaryHTTPLimitExceeded(reason: "\(what) section has more than \(limits.maximumFieldCount) fields")
        }
        let limit = UInt64(clamping: limits.maximumFieldSectionSize)
        guard nameLength <= limit else {
            throw .binaryHTTPLimitExceeded(reason: "\(what) field name of \(nameLength) bytes exceeds \(limit)")
        }
        let name = try reader.readBytes(count: Int(nameLength))
        let valueLength = try reader.readVarInt()
        guard valueLength <= limit else {
            throw .binaryHTTPLimitExceeded(reason: "\(what) field value of \(valueLength) bytes exceeds \(limit)")
        }
        let value = try reader.readBytes(count: Int(valueLength))
        return try BinaryHTTPField(rawName: name, rawValue: value)
    }

    private func checkContentSize(_ size: UInt64) throws(EnvelopeError) {
        guard size <= UInt64(clamping: self.limits.maximumContentSize) else {
            throw .binaryHTTPLimitExceeded(
                reason: "content of \(size) bytes exceeds \(self.limits.maximumContentSize)"
            )
        }
    }
}
