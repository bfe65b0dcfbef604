/// One header or trailer field line of a binary HTTP message.
///
/// Names are stored in lowercase; values are UTF-8 text without control characters other than horizontal tab.
public struct BinaryHTTPField: Hashable, Sendable {
    /// The field name, in lowercase.
    public var name: String

    /// The field value.
    public var value: String

    /// Creates a field; the name is lowercased when the field is encoded.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

extension BinaryHTTPField {
    /// Decodes and validates a field line's raw name and value.
    init(rawName: [UInt8], rawValue: [UInt8]) throws(EnvelopeError) {
        guard let name = Self.validatedName(rawName) else {
            throw .malformedBinaryHTTP(reason: "field name of \(rawName.count) bytes is not an HTTP token")
        }
        guard let value = Self.validatedValue(rawValue) else {
            throw .malformedBinaryHTTP(
                reason: "field value of \(rawValue.count) bytes holds control characters or invalid UTF-8"
            )
        }
        self.init(name: name, value: value)
    }

    /// The name as it goes on the wire, after validation.
    func encodedName() throws(EnvelopeError) -> [UInt8] {
        guard let name = Self.validatedName(Array(self.name.utf8)) else {
            throw .invalidArgument(reason: "field name of \(self.name.utf8.count) bytes is not an HTTP token")
        }
        return Array(name.utf8)
    }

    /// The value as it goes on the wire, after validation.
    func encodedValue() throws(EnvelopeError) -> [UInt8] {
        let raw = Array(self.value.utf8)
        guard Self.validatedValue(raw) != nil else {
            throw .invalidArgument(reason: "field value of \(raw.count) bytes holds control characters")
        }
        return raw
    }

    /// A lowercased token (RFC 9110 §5.6.2), or `nil` when `raw` is empty or holds a non-token byte.
    private static func validatedName(_ raw: [UInt8]) -> String? {
        guard !raw.isEmpty, raw.allSatisfy(HTTPSyntax.isTokenByte) else {
            return nil
        }
        return String(decoding: raw.map(HTTPSyntax.lowercased), as: UTF8.self)
    }

    /// The value as a string, or `nil` when it holds NUL, CR, LF, another control byte, or invalid UTF-8.
    private static func validatedValue(_ raw: [UInt8]) -> String? {
        guard raw.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            return nil
        }
        return String(validating: raw, as: UTF8.self)
    }
}
