/// An HTTP `Content-Type` value (RFC 9110 §8.3): the media type and its parameters. The one Content-Type parser in
/// Confide, for the server and for handlers that read a request's content type.
public struct ContentType: Sendable, Equatable {
    /// `type/subtype` in lower case, e.g. `application/json`.
    public let mediaType: String
    /// The parameters by lower-cased name, with their values as written (quoted strings unquoted). A malformed
    /// parameter is left out, as browsers leave it out; the first of repeated names counts.
    public let parameters: [String: String]

    /// Parses a `Content-Type` value; `nil` when it does not start with a `type/subtype` of token characters
    /// (spaces and tabs around the value and before each `;` are allowed).
    public init?(_ value: String) {
        let bytes = Array(value.utf8)
        var position = 0
        Self.skipWhitespace(bytes, &position)
        let type = Self.token(bytes, &position)
        guard !type.isEmpty, position < bytes.count, bytes[position] == UInt8(ascii: "/") else { return nil }
        position += 1
        let subtype = Self.token(bytes, &position)
        guard !subtype.isEmpty else { return nil }
        Self.skipWhitespace(bytes, &position)
        guard position == bytes.count || bytes[position] == UInt8(ascii: ";") else { return nil }
        mediaType = String(decoding: type + [UInt8(ascii: "/")] + subtype, as: UTF8.self).lowercased()
        parameters = Self.parameters(bytes, from: position)
    }

    /// The `charset` parameter in lower case, when there is one.
    public var charset: String? { parameters["charset"]?.lowercased() }

    /// Whether the media type is JSON: `application/json` or a `+json` structured syntax (RFC 6839).
    public var isJSON: Bool { mediaType == "application/json" || mediaType.hasSuffix("+json") }

    /// Reads `; name=value` pairs from `position` (at a `;` or the end) to the end.
    private static func parameters(_ bytes: [UInt8], from start: Int) -> [String: String] {
        var parameters: [String: String] = [:]
        var position = start
        while position < bytes.count {
            // At a `;`: skip it, then the whitespace before the name.
            position += 1
            skipWhitespace(bytes, &position)
            let name = token(bytes, &position)
            var value: [UInt8]?
            if !name.isEmpty, position < bytes.count, bytes[position] == UInt8(ascii: "=") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "\"") {
                    value = quotedString(bytes, &position)
                } else {
                    let text = token(bytes, &position)
                    value = text.isEmpty ? nil : text
                }
            }
            skipWhitespace(bytes, &position)
            let wellFormed = position == bytes.count || bytes[position] == UInt8(ascii: ";")
            if wellFormed, let value {
                let key = String(decoding: name, as: UTF8.self).lowercased()
                if parameters[key] == nil { parameters[key] = String(decoding: value, as: UTF8.self) }
            }
            while position < bytes.count, bytes[position] != UInt8(ascii: ";") { position += 1 }
        }
        return parameters
    }

    /// A quoted string from its opening `"`, unescaped; nil when it never closes.
    private static func quotedString(_ bytes: [UInt8], _ position: inout Int) -> [UInt8]? {
        var value: [UInt8] = []
        position += 1
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return value
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { return nil }
                value.append(bytes[position])
                position += 1
            default: value.append(byte)
            }
        }
        return nil
    }

    /// The run of token characters (RFC 9110 §5.6.2) at `position`.
    private static func token(_ bytes: [UInt8], _ position: inout Int) -> [UInt8] {
        let start = position
        while position < bytes.count, isTokenCharacter(bytes[position]) { position += 1 }
        return Array(bytes[start..<position])
    }

    private static func skipWhitespace(_ bytes: [UInt8], _ position: inout Int) {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
    }

    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
