import Crypto
import Synchronization

/// The gateway's key pairs: one current key that is advertised, and retired keys still accepted for a grace period.
///
/// Keys are generated in memory and never written anywhere. Thread-safe.
public final class GatewayKeyStore: Sendable {
    /// The suites offered by default: AES-128-GCM and ChaCha20-Poly1305, both with HKDF-SHA256.
    public static let defaultSuites: [SymmetricSuite] = [.hkdfSHA256AES128GCM, .hkdfSHA256ChaCha20Poly1305]

    private struct Retired {
        let key: GatewayKey
        let acceptedUntil: ContinuousClock.Instant
    }

    private struct State {
        var current: GatewayKey
        var retired: [Retired]
    }

    private let state: Mutex<State>
    private let suites: [SymmetricSuite]
    private let gracePeriod: Duration
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates a store holding one freshly generated key with a random key identifier.
    ///
    /// - Parameters:
    ///   - suites: the KDF and AEAD pairs to offer with every key.
    ///   - gracePeriod: how long a key stays accepted after ``rotate()`` replaces it.
    ///   - now: the clock; inject one in tests.
    public convenience init(
        suites: [SymmetricSuite] = GatewayKeyStore.defaultSuites,
        gracePeriod: Duration = .seconds(3600),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) throws(EnvelopeError) {
        let key = try GatewayKey(
            privateKey: Curve25519.KeyAgreement.PrivateKey(),
            keyID: UInt8.random(in: .min ... .max),
            suites: suites
        )
        try self.init(currentKey: key, gracePeriod: gracePeriod, now: now)
    }

    /// Creates a store whose current key is `currentKey`, for instance a key shared by replicas.
    ///
    /// Keys created later by ``rotate()`` offer the same suites as `currentKey`.
    public init(
        currentKey: GatewayKey,
        gracePeriod: Duration = .seconds(3600),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) throws(EnvelopeError) {
        guard gracePeriod >= .zero else {
            throw .invalidArgument(reason: "the grace period must not be negative")
        }
        self.state = Mutex(State(current: currentKey, retired: []))
        self.suites = currentKey.configuration.symmetricSuites
        self.gracePeriod = gracePeriod
        self.now = now
    }

    /// The configuration of the current key.
    public var currentConfiguration: OHTTPKeyConfiguration {
        self.state.withLock { $0.current.configuration }
    }

    /// The configurations to advertise, as an `application/ohttp-keys` body (RFC 9458 §3.2).
    ///
    /// Only the current key is advertised; retired keys are accepted but no longer offered.
    public func encodedConfigurations() throws(EnvelopeError) -> [UInt8] {
        try OHTTPKeyConfiguration.encodeList([self.currentConfiguration])
    }

    /// Replaces the current key with a freshly generated one and returns its configuration.
    ///
    /// The previous key stays accepted for the grace period. The new key identifier is the next one not in use;
    /// if all 256 are in use, the oldest retired key is dropped early.
    @discardableResult
    public func rotate() -> OHTTPKeyConfiguration {
        let privateKey = Curve25519.KeyAgreement.PrivateKey()
        let now = self.now()
        return self.state.withLock { state in
            Self.prune(&state, now: now)
            if state.retired.count >= 255 {
                state.retired.removeFirst()
            }
            let inUse = Set(state.retired.map(\.key.configuration.keyID) + [state.current.configuration.keyID])
            var keyID = state.current.configuration.keyID &+ 1
            while inUse.contains(keyID) {
                keyID &+= 1
            }
            state.retired.append(Retired(key: state.current, acceptedUntil: now + self.gracePeriod))
            state.current = GatewayKey(validatedPrivateKey: privateKey, keyID: keyID, suites: self.suites)
            return state.current.configuration
        }
    }

    /// The accepted key named `keyID`.
    ///
    /// Throws ``EnvelopeError/Code/unknownKeyID`` when no current or unexpired retired key has that identifier.
    public func key(for keyID: UInt8) throws(EnvelopeError) -> GatewayKey {
        let now = self.now()
        let key = self.state.withLock { state -> GatewayKey? in
            Self.prune(&state, now: now)
            if state.current.configuration.keyID == keyID {
                return state.current
            }
            return state.retired.last { $0.key.configuration.keyID == keyID }?.key
        }
        guard let key else {
            throw .unknownKeyID(reason: "key identifier \(keyID) is not accepted")
        }
        return key
    }

    /// The identifiers of every accepted key, current first.
    public var acceptedKeyIDs: [UInt8] {
        let now = self.now()
        return self.state.withLock { state in
            Self.prune(&state, now: now)
            return [state.current.configuration.keyID] + state.retired.reversed().map(\.key.configuration.keyID)
        }
    }

    private static func prune(_ state: inout State, now: ContinuousClock.Instant) {
        state.retired.removeAll { $0.acceptedUntil <= now }
    }
}
