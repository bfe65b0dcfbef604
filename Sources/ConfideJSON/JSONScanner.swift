/// The kind of the next JSON value, told by its first byte.
public enum JSONKind: Sendable, Equatable {
    case object
    case array
    case string
    case number
    case bool
    case null
}

/// A JSON number read in place: integers keep their exact value when they fit 64 bits.
public struct JSONNumber: Sendable, Equatable {
    /// The sign and magnitude of an integer literal (no fraction, no exponent) that fits `UInt64`.
    public let exactInteger: (negative: Bool, magnitude: UInt64)?
    /// The value, rounded to the nearest `Double` (always finite).
    public let value: Double

    /// The value as `T`, or `nil` unless it is an integer within `T`'s range (`1.0` and `1e2` count).
    public func integer<T: FixedWidthInteger>(as type: T.Type) -> T? {
        guard let (negative, magnitude) = exactInteger else { return T(exactly: value) }
        guard negative else { return T(exactly: magnitude) }
        if magnitude == 0 { return 0 }
        guard T.isSigned else { return nil }
        if magnitude == UInt64(1) << 63 { return T(exactly: Int64.min) }
        guard let positive = Int64(exactly: magnitude) else { return nil }
        return T(exactly: -positive)
    }

    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        lhs.value == rhs.value && lhs.exactInteger?.negative == rhs.exactInteger?.negative
            && lhs.exactInteger?.magnitude == rhs.exactInteger?.magnitude
    }
}

/// A pull reader over JSON text (RFC 8259) in untrusted bytes: the caller asks for the value it expects
/// next and nothing is built that it does not ask for. Never traps: every problem is a ``JSONError``, and
/// arrays and objects nest at most ``maximumDepth`` deep.
///
/// Containers are walked with ``openObject()`` / ``nextKey(maximumLength:)`` and ``openArray()`` /
/// ``nextElement()``; each member value or element must be read or skipped before asking for the next.
public struct JSONScanner {
    /// The text.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The offset of the next byte to read; the caller may move it back to a value it read before.
    public var position: Int
    /// The deepest nesting of arrays and objects accepted.
    public let maximumDepth: Int
    /// How many arrays and objects are open.
    public private(set) var depth = 0
    /// Whether the last thing read opened a container (so no comma comes before its first item).
    private var justOpened = false

    /// Reads `bytes` from the start.
    public init(_ bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int = JSONParser.maximumDepth) {
        self.bytes = bytes
        self.position = 0
        self.maximumDepth = maximumDepth
    }

    /// An error at the current position.
    public func error(_ message: String, isLimit: Bool = false) -> JSONError {
        JSONError(message: message, offset: position, isLimit: isLimit)
    }

    private var current: UInt8? { position >= 0 && position < bytes.count ? bytes[position] : nil }

    /// Skips spaces, tabs and line breaks.
    public mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    /// Checks that only whitespace is left.
    public mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        guard current == nil else { throw error("unexpected text after the value") }
    }

    /// The kind of the next value, without reading it.
    public mutating func peekKind() throws(JSONError) -> JSONKind {
        skipWhitespace()
        guard let byte = current else { throw error("unexpected end of text") }
        switch byte {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw error("unexpected character '\(Unicode.Scalar(byte))'")
        }
    }

    // MARK: Containers

    /// Reads the `{` of an object.
    public mutating func openObject() throws(JSONError) {
        try open(UInt8(ascii: "{"), "an object")
    }

    /// Reads the `[` of an array.
    public mutating func openArray() throws(JSONError) {
        try open(UInt8(ascii: "["), "an array")
    }

    private mutating func open(_ bracket: UInt8, _ kind: String) throws(JSONError) {
        skipWhitespace()
        guard current == bracket else { throw error("expected \(kind)") }
        guard depth < maximumDepth else { throw error("nesting deeper than \(maximumDepth)", isLimit: true) }
        position += 1
        depth += 1
        justOpened = true
    }

    /// Reads up to the next key of the open object and its `:`, returning the key, or `nil` after reading the
    /// object's `}`. A key longer than `maximumLength` bytes is an error.
    public mutating func nextKey(maximumLength: Int = 256) throws(JSONError) -> String? {
        guard try nextItem(closing: UInt8(ascii: "}"), "an object") else { return nil }
        guard current == UInt8(ascii: "\"") else { throw error("expected a string key in an object") }
        guard let key = try readString(maximumLength: maximumLength) else {
            throw error("an object key is longer than \(maximumLength) bytes", isLimit: true)
        }
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
        position += 1
        return key
    }

    /// Moves to the next element of the open array: `true` when there is one, `false` after reading the `]`.
    public mutating func nextElement() throws(JSONError) -> Bool {
        try nextItem(closing: UInt8(ascii: "]"), "an array")
    }

    private mutating func nextItem(closing: UInt8, _ kind: String) throws(JSONError) -> Bool {
        skipWhitespace()
        let first = justOpened
        justOpened = false
        guard let byte = current else { throw error("unexpected end of text inside \(kind)") }
        if byte == closing {
            guard depth > 0 else { throw error("unbalanced '\(Unicode.Scalar(closing))'") }
            position += 1
            depth -= 1
            return false
        }
        if !first {
            guard byte == UInt8(ascii: ",") else {
                throw error("expected ',' or '\(Unicode.Scalar(closing))' in \(kind)")
            }
            position += 1
            skipWhitespace()
        }
        return true
    }

    // MARK: Scalars

    /// Reads `true` or `false`.
    public mutating func readBool() throws(JSONError) -> Bool {
        skipWhitespace()
        justOpened = false
        if try literal("true") { return true }
        if try literal("false") { return false }
        throw error("expected true or false")
    }

    /// Reads `null`.
    public mutating func readNull() throws(JSONError) {
        skipWhitespace()
        justOpened = false
        guard try literal("null") else { throw error("expected null") }
    }

    private mutating func literal(_ text: StaticString) throws(JSONError) -> Bool {
        let count = text.utf8CodeUnitCount
        guard let first = current, first == text.utf8Start.pointee else { return false }
        guard bytes.count - position >= count else { throw error("unexpected end of text") }
        for index in 0..<count where bytes[position + index] != text.utf8Start[index] {
            throw error("unknown literal")
        }
        position += count
        return true
    }

    /// Reads a number. Numbers too large for a `Double` are refused.
    public mutating func readNumber() throws(JSONError) -> JSONNumber {
        let (start, negative, magnitude) = try scanNumber()
        if let magnitude {
            let value = negative ? -Double(magnitude) : Double(magnitude)
            return JSONNumber(exactInteger: (negative, magnitude), value: value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw JSONError(message: "number out of range", offset: start)
        }
        return JSONNumber(exactInteger: nil, value: value)
    }

    /// Reads past a number, checking its syntax but not its range.
    public mutating func skipNumber() throws(JSONError) {
        _ = try scanNumber()
    }

    /// Reads a number's text: where it starts, its sign, and its magnitude when it is an integer that fits
    /// `UInt64`.
    private mutating func scanNumber() throws(JSONError) -> (start: Int, negative: Bool, magnitude: UInt64?) {
        skipWhitespace()
        justOpened = false
        let start = position
        var negative = false
        if current == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw error("expected a digit")
        }
        var magnitude: UInt64? = 0
        if first == UInt8(ascii: "0") {
            position += 1
        } else {
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if let value = magnitude {
                    let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
                    let (sum, overflowSum) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                    magnitude = overflowTimes || overflowSum ? nil : sum
                }
                position += 1
            }
        }
        if current == UInt8(ascii: ".") {
            magnitude = nil
            position += 1
            guard skipDigits() > 0 else { throw error("expected a digit after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            magnitude = nil
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard skipDigits() > 0 else { throw error("expected a digit in the exponent") }
        }
        return (start, negative, magnitude)
    }

    private mutating func skipDigits() -> Int {
        let start = position
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { position += 1 }
        return position - start
    }

    /// Reads a string, handing its decoded UTF-8 to `emit` in pieces (runs of plain text, and each escape).
    /// The text is checked to be valid UTF-8.
    public mutating func readString(_ emit: (UnsafeRawBufferPointer) -> Void) throws(JSONError) {
        skipWhitespace()
        justOpened = false
        guard current == UInt8(ascii: "\"") else { throw error("expected a string") }
        position += 1
        while true {
            let runStart = position
            while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                guard byte >= 0x20 else { throw error("control character in a string") }
                position += 1
            }
            if position > runStart {
                let run = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<position])
                guard UTF8Validation.isValid(run) else {
                    throw JSONError(message: "string is not valid UTF-8", offset: runStart)
                }
                emit(run)
            }
            guard let stop = current else { throw error("unterminated string") }
            position += 1
            if stop == UInt8(ascii: "\"") { return }
            var scalar = try readEscape()
            withUnsafeBytes(of: &scalar.bytes) { emit(UnsafeRawBufferPointer(rebasing: $0[0..<scalar.count])) }
        }
    }

    /// Reads a string of at most `maximumLength` bytes of UTF-8; a longer one is read and `nil` returned.
    public mutating func readString(maximumLength: Int) throws(JSONError) -> String? {
        var text: [UInt8] = []
        var tooLong = false
        try readString { piece in
            guard !tooLong, piece.count <= maximumLength - text.count else {
                tooLong = true
                return
            }
            text.append(contentsOf: piece)
        }
        return tooLong ? nil : String(decoding: text, as: UTF8.self)
    }

    /// One escape after its backslash, as up to 4 bytes of UTF-8.
    private mutating func readEscape() throws(JSONError) -> (bytes: (UInt8, UInt8, UInt8, UInt8), count: Int) {
        try Self.escape(in: bytes, at: &position)
    }

    /// The escape that starts at `position` (just after its backslash) in `bytes`, as up to 4 bytes of UTF-8;
    /// `position` moves past it. Shared by the scanner and ``JSONParser``.
    static func escape(in bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) throws(JSONError)
        -> (bytes: (UInt8, UInt8, UInt8, UInt8), count: Int)
    {
        let start = position
        func error(_ message: String) -> JSONError { JSONError(message: message, offset: start) }
        func hex4() throws(JSONError) -> UInt32 {
            guard position >= 0, bytes.count - position >= 4 else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = Hex.value(ofDigit: bytes[position]) else {
                    throw error("invalid hex digit in \\u escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }
        guard position >= 0, position < bytes.count else { throw error("unterminated escape") }
        let escape = bytes[position]
        position += 1
        func one(_ byte: UInt8) -> (bytes: (UInt8, UInt8, UInt8, UInt8), count: Int) { ((byte, 0, 0, 0), 1) }
        switch escape {
        case UInt8(ascii: "\""): return one(0x22)
        case UInt8(ascii: "\\"): return one(0x5C)
        case UInt8(ascii: "/"): return one(0x2F)
        case UInt8(ascii: "b"): return one(0x08)
        case UInt8(ascii: "f"): return one(0x0C)
        case UInt8(ascii: "n"): return one(0x0A)
        case UInt8(ascii: "r"): return one(0x0D)
        case UInt8(ascii: "t"): return one(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw error("unpaired surrogate in \\u escape") }
                position += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("invalid low surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw error("unpaired surrogate in \\u escape")
            }
            return UTF8Validation.encode(scalar)
        default:
            throw error("invalid escape '\\\(Unicode.Scalar(escape))'")
        }
    }

    // MARK: Skipping

    /// Reads past the next value of any kind, checking its syntax and nesting, building nothing.
    public mutating func skipValue() throws(JSONError) {
        switch try peekKind() {
        case .object:
            try openObject()
            while try nextItem(closing: UInt8(ascii: "}"), "an object") {
                guard current == UInt8(ascii: "\"") else { throw error("expected a string key in an object") }
                try readString { _ in }
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
                position += 1
                try skipValue()
            }
        case .array:
            try openArray()
            while try nextElement() { try skipValue() }
        case .string: try readString { _ in }
        case .number: try skipNumber()
        case .bool: _ = try readBool()
        case .null: try readNull()
        }
    }
}
