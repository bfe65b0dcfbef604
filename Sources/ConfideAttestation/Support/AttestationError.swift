/// An error raised while parsing, producing or verifying attestation evidence.
///
/// Errors compare equal when their ``code`` is equal; the message and the source location are for people.
public struct AttestationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a value to match on.
    public let code: ErrorCode

    /// A human-readable explanation.
    public let message: String

    /// Where the error was raised.
    public let location: String

    /// Creates an error; the package's other modules raise these too (the attestation agent's client).
    package init(_ code: ErrorCode, _ message: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    public static func == (lhs: AttestationError, rhs: AttestationError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }

    public var description: String {
        "AttestationError.\(self.code): \(self.message) (\(self.location))"
    }
}

extension AttestationError {
    /// The kind of an ``AttestationError``; new codes may be added in later versions.
    public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case truncated
            case oversized
            case malformed
            case unsupportedFormat
            case invalidSignature
            case invalidKey
            case invalidCertificate
            case untrustedCertificateChain
            case reportDataMismatch
            case measurementNotAllowed
            case debugNotAllowed
            case guestPolicyNotAllowed
            case qeIdentityMismatch
            case measurementLogMismatch
            case measurementLogRefused
            case simulatedEvidenceRefused
            case invalidArgument
            case providerUnavailable
            case providerMismatch
            case concurrentRequest
            case providerFailed
            case io
            case missingCollateral
            case collateralMismatch
            case expired
            case revoked
            case noMatchingTCBLevel
            case tcbStatusNotAccepted
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The input ended before a field that the format requires.
        public static let truncated = ErrorCode(.truncated)
        /// The input is larger than the format allows.
        public static let oversized = ErrorCode(.oversized)
        /// A field holds a value the format does not allow.
        public static let malformed = ErrorCode(.malformed)
        /// A version, key type, body type or TEE type this library does not support.
        public static let unsupportedFormat = ErrorCode(.unsupportedFormat)
        /// A signature does not verify, or a value bound by a signature does not match.
        public static let invalidSignature = ErrorCode(.invalidSignature)
        /// A public key cannot be used (wrong curve, wrong encoding).
        public static let invalidKey = ErrorCode(.invalidKey)
        /// A certificate cannot be parsed or used.
        public static let invalidCertificate = ErrorCode(.invalidCertificate)
        /// The certificate chain does not lead to the pinned root.
        public static let untrustedCertificateChain = ErrorCode(.untrustedCertificateChain)
        /// The evidence's report data is not the expected key binding.
        public static let reportDataMismatch = ErrorCode(.reportDataMismatch)
        /// A measurement is not among those the policy allows.
        public static let measurementNotAllowed = ErrorCode(.measurementNotAllowed)
        /// The evidence comes from a guest a debugger can read, and the policy does not accept that.
        public static let debugNotAllowed = ErrorCode(.debugNotAllowed)
        /// The guest's privilege level, policy or attributes (SEV-SNP VMPL, migration agent, SMT; TDX attributes and
        /// service TD) are not ones the policy accepts.
        public static let guestPolicyNotAllowed = ErrorCode(.guestPolicyNotAllowed)
        /// The quoting enclave that signed a TDX quote is not the one Intel publishes (MRSIGNER, ISVPRODID,
        /// MISCSELECT or ATTRIBUTES differ).
        public static let qeIdentityMismatch = ErrorCode(.qeIdentityMismatch)
        /// The measurement log does not replay to the register the evidence reports.
        public static let measurementLogMismatch = ErrorCode(.measurementLogMismatch)
        /// The measurement log records something the policy does not allow.
        public static let measurementLogRefused = ErrorCode(.measurementLogRefused)
        /// Simulated evidence was presented and the policy does not accept it.
        public static let simulatedEvidenceRefused = ErrorCode(.simulatedEvidenceRefused)
        /// A caller-supplied argument is out of range (for example a nonce length).
        public static let invalidArgument = ErrorCode(.invalidArgument)
        /// No evidence provider is available on this machine.
        public static let providerUnavailable = ErrorCode(.providerUnavailable)
        /// The evidence provider (configfs-tsm, the attestation agent) produces another kind of evidence than the one
        /// that was asked for.
        public static let providerMismatch = ErrorCode(.providerMismatch)
        /// Another writer changed the configfs-tsm report while it was being produced.
        public static let concurrentRequest = ErrorCode(.concurrentRequest)
        /// The evidence provider answered, but with an error or with something it should not (for example the
        /// Confidential Containers attestation agent answering HTTP 500).
        public static let providerFailed = ErrorCode(.providerFailed)
        /// Reading or writing a file failed.
        public static let io = ErrorCode(.io)
        /// The evidence needs collateral (Intel's TCB Info and QE Identity for TDX) and none was given, and the
        /// policy does not allow that.
        public static let missingCollateral = ErrorCode(.missingCollateral)
        /// The collateral is not for this evidence (another FMSPC, PCE ID, TEE or quoting enclave).
        public static let collateralMismatch = ErrorCode(.collateralMismatch)
        /// Collateral, a revocation list or a certificate is not valid at the verification time.
        public static let expired = ErrorCode(.expired)
        /// A certificate is on its issuer's revocation list.
        public static let revoked = ErrorCode(.revoked)
        /// The platform's TCB matches no TCB level of the collateral, so it has no status at all.
        public static let noMatchingTCBLevel = ErrorCode(.noMatchingTCBLevel)
        /// The TCB status (or its evaluation data number) is not one the policy accepts.
        public static let tcbStatusNotAccepted = ErrorCode(.tcbStatusNotAccepted)

        public var description: String {
            self.backing.rawValue
        }
    }
}
