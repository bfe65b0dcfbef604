/// An error raised while encoding, decoding, encapsulating or decapsulating an envelope.
///
/// Errors compare equal when their ``code`` is equal; the ``reason`` and the source location are for people.
/// Reasons describe structure (offsets, lengths, identifiers) and never include message content.
public struct EnvelopeError: Error, Hashable, CustomStringConvertible, Sendable {
    private let backing: Backing

    /// What went wrong, as a value that callers can compare against.
    public var code: Code { self.backing.code }

    /// A description of the problem for people; it never contains plaintext.
    public var reason: String { self.backing.reason }

    /// The file that raised the error.
    public var file: String { self.backing.file }

    /// The line that raised the error.
    public var line: UInt { self.backing.line }

    /// A description for people: the code, the reason and where the error was raised.
    public var description: String {
        "EnvelopeError.\(self.code): \(self.reason) (\(self.file):\(self.line))"
    }

    private init(_ code: Code, _ reason: String, file: String, line: UInt) {
        self.backing = Backing(code: code, reason: reason, file: file, line: line)
    }

    public static func == (lhs: EnvelopeError, rhs: EnvelopeError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }

    /// The input ended before a value could be read completely.
    @inline(never)
    public static func truncatedInput(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.truncatedInput, reason, file: file, line: line)
    }

    /// A value is out of the range its encoding can carry, or an argument is invalid.
    @inline(never)
    public static func invalidArgument(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.invalidArgument, reason, file: file, line: line)
    }

    /// A binary HTTP message is malformed (framing, control data, fields, padding).
    @inline(never)
    public static func malformedBinaryHTTP(
        reason: String,
        file: String = #fileID,
        line: UInt = #line
    ) -> EnvelopeError {
        EnvelopeError(.malformedBinaryHTTP, reason, file: file, line: line)
    }

    /// A binary HTTP message exceeds one of the configured ``BinaryHTTPLimits``.
    @inline(never)
    public static func binaryHTTPLimitExceeded(
        reason: String,
        file: String = #fileID,
        line: UInt = #line
    ) -> EnvelopeError {
        EnvelopeError(.binaryHTTPLimitExceeded, reason, file: file, line: line)
    }

    /// A key configuration, or a list of them, is malformed.
    @inline(never)
    public static func malformedKeyConfiguration(
        reason: String,
        file: String = #fileID,
        line: UInt = #line
    ) -> EnvelopeError {
        EnvelopeError(.malformedKeyConfiguration, reason, file: file, line: line)
    }

    /// An encapsulated request or response is malformed (truncated header, `enc` or ciphertext).
    @inline(never)
    public static func malformedMessage(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.malformedMessage, reason, file: file, line: line)
    }

    /// The request names a key identifier the gateway does not hold (or no longer accepts).
    @inline(never)
    public static func unknownKeyID(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.unknownKeyID, reason, file: file, line: line)
    }

    /// The request names a KEM, KDF or AEAD that the key configuration does not offer.
    @inline(never)
    public static func unsupportedSuite(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.unsupportedSuite, reason, file: file, line: line)
    }

    /// Key agreement or authenticated decryption failed: the message was not sealed for this key or was altered.
    @inline(never)
    public static func decryptionFailed(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.decryptionFailed, reason, file: file, line: line)
    }

    /// Encryption or key derivation failed.
    @inline(never)
    public static func encryptionFailed(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.encryptionFailed, reason, file: file, line: line)
    }

    /// The request's encapsulated key was already seen within the replay window.
    @inline(never)
    public static func replayedRequest(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.replayedRequest, reason, file: file, line: line)
    }

    /// The replay guard is full of unexpired entries and refuses new requests until some expire.
    @inline(never)
    public static func replayGuardFull(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.replayGuardFull, reason, file: file, line: line)
    }

    /// The inner request carries no `Date` header field.
    @inline(never)
    public static func missingDate(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.missingDate, reason, file: file, line: line)
    }

    /// A `Date` header field is not an IMF-fixdate.
    @inline(never)
    public static func invalidDate(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.invalidDate, reason, file: file, line: line)
    }

    /// The inner request's `Date` is further from the gateway's clock than the allowed skew.
    @inline(never)
    public static func dateOutsideSkew(reason: String, file: String = #fileID, line: UInt = #line) -> EnvelopeError {
        EnvelopeError(.dateOutsideSkew, reason, file: file, line: line)
    }
}

extension EnvelopeError {
    /// The kind of an ``EnvelopeError``; new codes may be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: Hashable, Sendable {
            case truncatedInput
            case invalidArgument
            case malformedBinaryHTTP
            case binaryHTTPLimitExceeded
            case malformedKeyConfiguration
            case malformedMessage
            case unknownKeyID
            case unsupportedSuite
            case decryptionFailed
            case encryptionFailed
            case replayedRequest
            case replayGuardFull
            case missingDate
            case invalidDate
            case dateOutsideSkew
        }

        fileprivate let backing: Backing

        fileprivate init(_ backing: Backing) {
            self.backing = backing
        }

        /// See ``EnvelopeError/truncatedInput(reason:file:line:)``.
        public static let truncatedInput = Code(.truncatedInput)
        /// See ``EnvelopeError/invalidArgument(reason:file:line:)``.
        public static let invalidArgument = Code(.invalidArgument)
        /// See ``EnvelopeError/malformedBinaryHTTP(reason:file:line:)``.
        public static let malformedBinaryHTTP = Code(.malformedBinaryHTTP)
        /// See ``EnvelopeError/binaryHTTPLimitExceeded(reason:file:line:)``.
        public static let binaryHTTPLimitExceeded = Code(.binaryHTTPLimitExceeded)
        /// See ``EnvelopeError/malformedKeyConfiguration(reason:file:line:)``.
        public static let malformedKeyConfiguration = Code(.malformedKeyConfiguration)
        /// See ``EnvelopeError/malformedMessage(reason:file:line:)``.
        public static let malformedMessage = Code(.malformedMessage)
        /// See ``EnvelopeError/unknownKeyID(reason:file:line:)``.
        public static let unknownKeyID = Code(.unknownKeyID)
        /// See ``EnvelopeError/unsupportedSuite(reason:file:line:)``.
        public static let unsupportedSuite = Code(.unsupportedSuite)
        /// See ``EnvelopeError/decryptionFailed(reason:file:line:)``.
        public static let decryptionFailed = Code(.decryptionFailed)
        /// See ``EnvelopeError/encryptionFailed(reason:file:line:)``.
        public static let encryptionFailed = Code(.encryptionFailed)
        /// See ``EnvelopeError/replayedRequest(reason:file:line:)``.
        public static let replayedRequest = Code(.replayedRequest)
        /// See ``EnvelopeError/replayGuardFull(reason:file:line:)``.
        public static let replayGuardFull = Code(.replayGuardFull)
        /// See ``EnvelopeError/missingDate(reason:file:line:)``.
        public static let missingDate = Code(.missingDate)
        /// See ``EnvelopeError/invalidDate(reason:file:line:)``.
        public static let invalidDate = Code(.invalidDate)
        /// See ``EnvelopeError/dateOutsideSkew(reason:file:line:)``.
        public static let dateOutsideSkew = Code(.dateOutsideSkew)

        /// Whether the error means the client used a key configuration the gateway does not offer.
        ///
        /// A gateway answers these with the RFC 9458 §5.3 problem type
        /// `https://iana.org/assignments/http-problem-types#ohttp-key`.
        public var isKeyConfigurationProblem: Bool {
            self == .unknownKeyID || self == .unsupportedSuite
        }

        /// The code's name.
        public var description: String {
            String(describing: self.backing)
        }
    }
}

extension EnvelopeError {
    private final class Backing: Sendable {
        let code: Code
        let reason: String
        let file: String
        let line: UInt

        init(code: Code, reason: String, file: String, line: UInt) {
            self.code = code
            self.reason = reason
            self.file = file
            self.line = line
        }
    }
}
