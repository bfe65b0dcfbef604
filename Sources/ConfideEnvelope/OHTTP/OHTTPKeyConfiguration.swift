/// An Oblivious HTTP key configuration (RFC 9458 §3.1): what a client needs to encrypt requests to a gateway.
public struct OHTTPKeyConfiguration: Hashable, Sendable {
    /// The media type of a list of length-prefixed configurations (RFC 9458 §3.2).
    public static let mediaType = "application/ohttp-keys"

    /// The key identifier a request names to select this key.
    public var keyID: UInt8

    /// The key encapsulation mechanism of ``publicKey``.
    public var kem: KEMIdentifier

    /// The gateway's public key, in the KEM's serialization.
    public var publicKey: [UInt8]

    /// The KDF and AEAD pairs the gateway accepts with this key, in order of preference.
    public var symmetricSuites: [SymmetricSuite]

    /// Creates a configuration.
    public init(keyID: UInt8, kem: KEMIdentifier, publicKey: [UInt8], symmetricSuites: [SymmetricSuite]) {
        self.keyID = keyID
        self.kem = kem
        self.publicKey = publicKey
        self.symmetricSuites = symmetricSuites
    }

    /// Decodes exactly one configuration, with no length prefix.
    ///
    /// Throws ``EnvelopeError/Code/unsupportedSuite`` for a KEM this library does not implement (its key length is
    /// unknown) and ``EnvelopeError/Code/malformedKeyConfiguration`` for anything else that is wrong.
    public init(decoding bytes: [UInt8]) throws(EnvelopeError) {
        var reader = ByteReader(bytes)
        try self.init(reading: &reader)
        guard reader.isAtEnd else {
            throw .malformedKeyConfiguration(reason: "\(reader.remainingCount) bytes follow the configuration")
        }
    }

    private init(reading reader: inout ByteReader) throws(EnvelopeError) {
        do throws(EnvelopeError) {
            let keyID = try reader.readUInt8()
            let kem = KEMIdentifier(rawValue: try reader.readUInt16())
            guard let keyLength = kem.keyLength else {
                throw .unsupportedSuite(reason: "key configuration \(keyID) uses unsupported KEM \(kem)")
            }
            let publicKey = try reader.readBytes(count: keyLength)
            let suitesLength = Int(try reader.readUInt16())
            guard suitesLength >= 4, suitesLength % 4 == 0 else {
                throw .malformedKeyConfiguration(
                    reason: "symmetric algorithms length \(suitesLength) is not a positive multiple of 4"
                )
            }
            var suites: [SymmetricSuite] = []
            for _ in 0..<(suitesLength / 4) {
                let kdf = KDFIdentifier(rawValue: try reader.readUInt16())
                let aead = AEADIdentifier(rawValue: try reader.readUInt16())
                suites.append(SymmetricSuite(kdf: kdf, aead: aead))
            }
            self.init(keyID: keyID, kem: kem, publicKey: publicKey, symmetricSuites: suites)
        } catch  where error.code == .truncatedInput {
            throw .malformedKeyConfiguration(reason: "configuration ends early: \(error.reason)")
        }
    }

    /// Encodes the configuration, with no length prefix.
    ///
    /// Throws ``EnvelopeError/Code/invalidArgument`` when there is no suite or too many to encode.
    public func encoded() throws(EnvelopeError) -> [UInt8] {
        guard !self.symmetricSuites.isEmpty, self.symmetricSuites.count <= 16383 else {
            throw .invalidArgument(reason: "a key configuration needs 1 to 16383 symmetric suites")
        }
        var writer = ByteWriter(capacity: 5 + self.publicKey.count + 4 * self.symmetricSuites.count)
        writer.writeUInt8(self.keyID)
        writer.writeUInt16(self.kem.rawValue)
        writer.writeBytes(self.publicKey)
        writer.writeUInt16(UInt16(4 * self.symmetricSuites.count))
        for suite in self.symmetricSuites {
            writer.writeUInt16(suite.kdf.rawValue)
            writer.writeUInt16(suite.aead.rawValue)
        }
        return writer.bytes
    }

    /// Decodes an `application/ohttp-keys` body: configurations each prefixed with a 2-byte length.
    ///
    /// Configurations whose KEM this library does not implement are skipped, as RFC 9458 §3.2 allows.
    /// Throws ``EnvelopeError/Code/malformedKeyConfiguration`` when the framing or a configuration is malformed.
    public static func decodeList(_ bytes: [UInt8]) throws(EnvelopeError) -> [OHTTPKeyConfiguration] {
        var reader = ByteReader(bytes)
        var configurations: [OHTTPKeyConfiguration] = []
        while !reader.isAtEnd {
            let element: [UInt8]
            do throws(EnvelopeError) {
                element = try reader.readUInt16PrefixedBytes()
            } catch {
                throw .malformedKeyConfiguration(reason: "configuration list ends early: \(error.reason)")
            }
            do throws(EnvelopeError) {
                configurations.append(try OHTTPKeyConfiguration(decoding: element))
            } catch  where error.code == .unsupportedSuite {
                continue
            }
        }
        return configurations
    }

    /// Encodes configurations as an `application/ohttp-keys` body, each prefixed with a 2-byte length.
    public static func encodeList(_ configurations: [OHTTPKeyConfiguration]) throws(EnvelopeError) -> [UInt8] {
        var writer = ByteWriter()
        for configuration in configurations {
            try writer.writeUInt16PrefixedBytes(try configuration.encoded())
        }
        return writer.bytes
    }
}
