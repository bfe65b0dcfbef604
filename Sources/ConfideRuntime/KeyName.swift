/// The name of a key held by a key provider (a key file, or a Confidential Data Hub resource), checked against one
/// grammar before it reaches any provider.
///
/// A key name is 1 to 3 segments separated by `/`; each segment is 1 or more of `A-Z a-z 0-9 . _ -` and is not
/// `.` or `..`; the whole name is at most ``maximumLength`` bytes. So a name never holds a character that means
/// something in a URL or a path (`?`, `#`, `%`, spaces, `\`), never climbs out of a folder, and can be put into a
/// file path or a URL path as it is.
public struct KeyName: Sendable, Hashable, CustomStringConvertible {
    /// The longest key name, in bytes.
    public static let maximumLength = 255
    /// The most `/`-separated segments.
    public static let maximumSegments = 3

    /// The name as written, e.g. `default/confide/minilm`.
    public let rawValue: String

    /// Checks `text` against the key-name grammar.
    public init(_ text: String) throws(KeyNameError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw KeyNameError("a key name must not be empty") }
        guard bytes.count <= Self.maximumLength else {
            throw KeyNameError("a key name must be at most \(Self.maximumLength) bytes, not \(bytes.count)")
        }
        if let bad = bytes.first(where: { !Self.isAllowed($0) }) {
            let shown = bad >= 0x21 && bad < 0x7F ? "'\(Character(Unicode.Scalar(bad)))'" : "byte \(bad)"
            throw KeyNameError(
                "key name '\(Self.printable(text))' holds \(shown); only A-Z a-z 0-9 . _ - and '/' between segments "
                    + "are allowed")
        }
        let segments = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count <= Self.maximumSegments else {
            throw KeyNameError(
                "key name '\(text)' has \(segments.count) segments; at most \(Self.maximumSegments) are allowed")
        }
        guard !segments.contains(where: \.isEmpty) else {
            throw KeyNameError("key name '\(text)' has an empty segment (a leading, trailing or doubled '/')")
        }
        guard !segments.contains(where: { $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }) else {
            throw KeyNameError("key name '\(text)' has a '.' or '..' segment")
        }
        self.rawValue = text
    }

    /// The `/`-separated segments.
    public var segments: [Substring] { rawValue.split(separator: "/") }

    public var description: String { rawValue }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: "/"):
            true
        default:
            false
        }
    }

    /// `text` with control characters escaped, so that a refusal can quote a hostile name safely.
    private static func printable(_ text: String) -> String {
        String(
            text.prefix(80).unicodeScalars.flatMap { scalar in
                scalar.value < 0x20 || scalar.value == 0x7F
                    ? Array(scalar.escaped(asASCII: true).unicodeScalars) : [scalar]
            }.map(Character.init))
    }
}

/// Why a text is not a ``KeyName``.
public struct KeyNameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for people.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
