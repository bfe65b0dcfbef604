import Crypto

/// An HPKE key encapsulation mechanism identifier (RFC 9180 §7.1).
public struct KEMIdentifier: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The registered 16-bit value.
    public var rawValue: UInt16

    /// Wraps a registered value, known to this library or not.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// DHKEM(X25519, HKDF-SHA256), 0x0020: the only KEM this library implements.
    public static let x25519HKDFSHA256 = KEMIdentifier(rawValue: 0x0020)

    /// The value in hexadecimal, such as `0x0020`.
    public var description: String { hexadecimal(self.rawValue) }

    /// The length of a public key and of an encapsulated key (`Npk`, `Nenc`), when the KEM is implemented.
    var keyLength: Int? {
        self == .x25519HKDFSHA256 ? 32 : nil
    }
}

/// An HPKE key derivation function identifier (RFC 9180 §7.2).
public struct KDFIdentifier: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The registered 16-bit value.
    public var rawValue: UInt16

    /// Wraps a registered value, known to this library or not.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// HKDF-SHA256, 0x0001: the only KDF this library implements.
    public static let hkdfSHA256 = KDFIdentifier(rawValue: 0x0001)

    /// The value in hexadecimal, such as `0x0001`.
    public var description: String { hexadecimal(self.rawValue) }
}

/// An HPKE authenticated encryption identifier (RFC 9180 §7.3).
public struct AEADIdentifier: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The registered 16-bit value.
    public var rawValue: UInt16

    /// Wraps a registered value, known to this library or not.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// AES-128-GCM, 0x0001.
    public static let aes128GCM = AEADIdentifier(rawValue: 0x0001)

    /// AES-256-GCM, 0x0002.
    public static let aes256GCM = AEADIdentifier(rawValue: 0x0002)

    /// ChaCha20-Poly1305, 0x0003.
    public static let chaCha20Poly1305 = AEADIdentifier(rawValue: 0x0003)

    /// The value in hexadecimal, such as `0x0001`.
    public var description: String { hexadecimal(self.rawValue) }

    /// The key length `Nk`, when this library implements the identifier; every implemented AEAD has `Nn` = 12.
    var keyLength: Int? {
        switch self {
        case .aes128GCM: 16
        case .aes256GCM, .chaCha20Poly1305: 32
        default: nil
        }
    }

    /// swift-crypto's AEAD, when this library implements the identifier.
    var hpke: HPKE.AEAD? {
        switch self {
        case .aes128GCM: .AES_GCM_128
        case .aes256GCM: .AES_GCM_256
        case .chaCha20Poly1305: .chaChaPoly
        default: nil
        }
    }
}

/// A pair of HPKE symmetric algorithms that a key configuration offers (RFC 9458 §3.1).
public struct SymmetricSuite: Hashable, Sendable, CustomStringConvertible {
    /// The key derivation function.
    public var kdf: KDFIdentifier

    /// The authenticated encryption algorithm.
    public var aead: AEADIdentifier

    /// Creates a suite.
    public init(kdf: KDFIdentifier, aead: AEADIdentifier) {
        self.kdf = kdf
        self.aead = aead
    }

    /// HKDF-SHA256 with AES-128-GCM.
    public static let hkdfSHA256AES128GCM = SymmetricSuite(kdf: .hkdfSHA256, aead: .aes128GCM)

    /// HKDF-SHA256 with AES-256-GCM.
    public static let hkdfSHA256AES256GCM = SymmetricSuite(kdf: .hkdfSHA256, aead: .aes256GCM)

    /// HKDF-SHA256 with ChaCha20-Poly1305.
    public static let hkdfSHA256ChaCha20Poly1305 = SymmetricSuite(kdf: .hkdfSHA256, aead: .chaCha20Poly1305)

    /// Every suite this library implements.
    public static let allImplemented: [SymmetricSuite] = [
        .hkdfSHA256AES128GCM, .hkdfSHA256AES256GCM, .hkdfSHA256ChaCha20Poly1305,
    ]

    /// Whether this library implements the suite.
    public var isImplemented: Bool {
        self.kdf == .hkdfSHA256 && self.aead.hpke != nil
    }

    /// The KDF and AEAD identifiers, such as `(0x0001, 0x0003)`.
    public var description: String { "(\(self.kdf), \(self.aead))" }

    /// swift-crypto's ciphersuite for X25519 and this suite, when this library implements it.
    var hpkeCiphersuite: HPKE.Ciphersuite? {
        guard self.kdf == .hkdfSHA256, let aead = self.aead.hpke else {
            return nil
        }
        return HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: aead)
    }
}

private func hexadecimal(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
