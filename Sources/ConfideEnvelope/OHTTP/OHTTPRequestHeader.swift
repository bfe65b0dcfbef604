/// The header of an encapsulated request (RFC 9458 §4.1): which key and algorithms the client used.
public struct OHTTPRequestHeader: Hashable, Sendable {
    /// The encoded length of a header: key identifier, KEM, KDF and AEAD identifiers.
    public static let encodedLength = 7

    /// The label that starts the HPKE `info` of a request.
    static let requestLabel = Array("message/bhttp request".utf8)

    /// The key identifier.
    public var keyID: UInt8

    /// The key encapsulation mechanism.
    public var kem: KEMIdentifier

    /// The KDF and AEAD.
    public var suite: SymmetricSuite

    /// Creates a header.
    public init(keyID: UInt8, kem: KEMIdentifier, suite: SymmetricSuite) {
        self.keyID = keyID
        self.kem = kem
        self.suite = suite
    }

    /// Reads a header from the start of an encapsulated request.
    init(reading reader: inout ByteReader) throws(EnvelopeError) {
        let keyID = try reader.readUInt8()
        let kem = KEMIdentifier(rawValue: try reader.readUInt16())
        let kdf = KDFIdentifier(rawValue: try reader.readUInt16())
        let aead = AEADIdentifier(rawValue: try reader.readUInt16())
        self.init(keyID: keyID, kem: kem, suite: SymmetricSuite(kdf: kdf, aead: aead))
    }

    /// The seven header bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.encodedLength)
        writer.writeUInt8(self.keyID)
        writer.writeUInt16(self.kem.rawValue)
        writer.writeUInt16(self.suite.kdf.rawValue)
        writer.writeUInt16(self.suite.aead.rawValue)
        return writer.bytes
    }

    /// The HPKE `info`: `"message/bhttp request" || 0x00 || header`.
    var hpkeInfo: [UInt8] {
        Self.requestLabel + [0] + self.encoded()
    }
}
