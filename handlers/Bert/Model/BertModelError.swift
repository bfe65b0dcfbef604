/// An error loading a BERT model's files: which kind of problem, and a message for people naming the file and
/// what is wrong with it.
///
/// Equality compares the code only, so callers and tests can match on the kind of failure.
public struct BertModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case fileNotFound, io, malformedSafeTensors, malformedConfig, unsupported, invalidUTF8
        }

        private let value: Value

        /// A file is missing.
        public static let fileNotFound = Code(value: .fileNotFound)
        /// A file exists but cannot be opened, mapped or read.
        public static let io = Code(value: .io)
        /// A safetensors file breaks the format.
        public static let malformedSafeTensors = Code(value: .malformedSafeTensors)
        /// A JSON configuration (config.json, tokenizer.json, ...) is malformed or has a value out of range.
        public static let malformedConfig = Code(value: .malformedConfig)
        /// A configuration asks for something this implementation does not do.
        public static let unsupported = Code(value: .unsupported)
        /// Text is not valid UTF-8.
        public static let invalidUTF8 = Code(value: .invalidUTF8)

        public var description: String { "\(value)" }
    }

    /// The kind of problem.
    public let code: Code
    /// What went wrong, for people.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func malformedSafeTensors(_ message: String) -> BertModelError {
        BertModelError(.malformedSafeTensors, message)
    }
    static func malformedConfig(_ message: String) -> BertModelError { BertModelError(.malformedConfig, message) }
    static func unsupported(_ message: String) -> BertModelError { BertModelError(.unsupported, message) }

    public static func == (lhs: BertModelError, rhs: BertModelError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { message }
}
