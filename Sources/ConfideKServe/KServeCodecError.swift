/// Why a KServe v2 message could not be decoded or encoded: a code to act on and a message for people.
///
/// Two errors are equal when their codes are; the message and the source location are for people.
public struct KServeCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: Hashable {
            case malformed
            case limitExceeded
            case unknownOutput
            case outOfMemory
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The message is not valid JSON or not a valid KServe v2 message (a wrong type, a missing member,
        /// a value out of range, data that does not match its shape).
        public static let malformed = Code(.malformed)
        /// The message goes past one of the ``KServeLimits``.
        public static let limitExceeded = Code(.limitExceeded)
        /// The request asked for an output the model did not produce.
        public static let unknownOutput = Code(.unknownOutput)
        /// Memory for a tensor was not available.
        public static let outOfMemory = Code(.outOfMemory)

        public var description: String {
            switch backing {
            case .malformed: "malformed"
            case .limitExceeded: "limitExceeded"
            case .unknownOutput: "unknownOutput"
            case .outOfMemory: "outOfMemory"
            }
        }
    }

    /// What kind of problem it is.
    public let code: Code
    /// What is wrong, for people.
    public let message: String
    /// The source file that raised the error.
    public let file: String
    /// The line that raised the error.
    public let line: UInt

    private init(_ code: Code, _ message: String, file: String, line: UInt) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The message is not a valid KServe v2 message.
    public static func malformed(_ message: String, file: String = #fileID, line: UInt = #line) -> Self {
        Self(.malformed, message, file: file, line: line)
    }

    /// The message goes past a limit.
    public static func limitExceeded(_ message: String, file: String = #fileID, line: UInt = #line) -> Self {
        Self(.limitExceeded, message, file: file, line: line)
    }

    /// The request asked for an output the model did not produce.
    public static func unknownOutput(_ message: String, file: String = #fileID, line: UInt = #line) -> Self {
        Self(.unknownOutput, message, file: file, line: line)
    }

    /// Memory for a tensor was not available.
    public static func outOfMemory(_ message: String, file: String = #fileID, line: UInt = #line) -> Self {
        Self(.outOfMemory, message, file: file, line: line)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { message }
}
