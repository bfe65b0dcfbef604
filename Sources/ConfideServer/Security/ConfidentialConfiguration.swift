public import ConfideAttestation
public import ConfideEnvelope

/// How the Oblivious HTTP gateway (`/.well-known/ohttp-gateway`) keys, checks and answers encrypted requests.
public struct ObliviousGatewayConfiguration: Sendable {
    /// The KDF and AEAD pairs offered with every key (X25519 is the only KEM).
    public var suites: [SymmetricSuite] = SymmetricSuite.allImplemented
    /// How often a fresh key replaces the current one; `nil` keeps the start-up key for the life of the process.
    public var rotationInterval: Duration? = .seconds(86_400)
    /// How long a replaced key is still accepted, so that clients holding it can finish and refetch.
    public var gracePeriod: Duration = .seconds(3_600)
    /// How far an inner request's `Date` may be from the server's clock.
    public var allowedDateSkew: Duration = .seconds(60)
    /// Whether inner requests without a `Date` header field are refused. Off by default: RFC 9458 clients need not
    /// send one, and such requests are still protected against replay within ``replayWindow``.
    public var requireDate = false
    /// The most encapsulated keys the replay guard remembers at once; beyond it requests get 503 until some expire.
    public var replayCapacity = 100_000
    /// The name of a shared X25519 private key (32 bytes) to fetch from the server's key provider instead of
    /// generating one, so that every replica serves the same key configuration; rotation is then off.
    public var sharedKeyName: String?
    /// The clock that the replay window, the `Date` check and the expiry of retired keys read; `nil` makes one when
    /// the gateway starts, from the wall-clock time then. Inject one in tests.
    public var clock: GatewayClock?

    /// How long an encapsulated key (`enc`) is remembered: twice the allowed skew and a second, so that a request
    /// whose `Date` is accepted cannot be replayed after its `enc` is forgotten.
    public var replayWindow: Duration { allowedDateSkew * 2 + .seconds(1) }

    /// Creates the default configuration: every implemented suite, daily rotation, an hour of grace, 60 s of skew.
    public init() {}
}

/// Where the attestation evidence served at `/attestation` comes from.
public enum AttestationSource: Sendable {
    /// Intel TDX or AMD SEV-SNP through configfs-tsm when present, otherwise through the Confidential Containers
    /// attestation agent when it answers, otherwise simulated evidence (with a warning).
    case automatic
    /// Simulated evidence signed by a key generated at start-up. **Insecure**: it proves nothing.
    case simulated
    /// Intel TDX quotes through configfs-tsm; the server does not start without them.
    case tdx
    /// AMD SEV-SNP reports through configfs-tsm; the server does not start without them.
    case snp
    /// TDX quotes or SEV-SNP reports through the Confidential Containers attestation agent
    /// (``ServerConfiguration/attestationAgent``), as inside a CoCo pod; the server does not start without them.
    case coco
    /// A provider chosen by the caller.
    case provider(any EvidenceProvider)
}
