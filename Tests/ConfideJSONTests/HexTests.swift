import ConfideJSON
import Testing

@Suite("Hexadecimal")
struct HexTests {
    /// RFC 4648 §10's BASE16 test vectors, both ways (encoding is lower case; decoding takes either case).
    @Test(arguments: [
        ("", ""), ("f", "66"), ("fo", "666F"), ("foo", "666F6F"), ("foob", "666F6F62"), ("fooba", "666F6F6261"),
        ("foobar", "666F6F626172"),
    ])
    func rfc4648Vectors(text: String, hex: String) {
        #expect(Hex.encode(Array(text.utf8)) == hex.lowercased())
        #expect(Hex.decode(hex) == Array(text.utf8))
        #expect(Hex.decode(hex.lowercased()) == Array(text.utf8))
    }

    @Test func everyByteRoundTrips() {
        let bytes = (0...255).map { UInt8($0) }
        let text = Hex.encode(bytes)
        #expect(text.hasPrefix("000102") && text.hasSuffix("fdfeff") && text.utf8.count == 512)
        #expect(Hex.decode(text) == bytes)
        #expect(Hex.decode(Substring(text.uppercased())) == bytes)
    }

    /// Only pairs of hex digits: what `UInt8(_:radix:)` would let through (a sign) is refused too.
    @Test(arguments: ["6", "666", "6g", "0x66", "+f", "-0", " 66", "66 ", "6 6", "６６", "é6"])
    func notHex(text: String) {
        #expect(Hex.decode(text) == nil)
    }

    @Test func digitValues() {
        #expect(Hex.value(ofDigit: UInt8(ascii: "0")) == 0)
        #expect(Hex.value(ofDigit: UInt8(ascii: "9")) == 9)
        #expect(Hex.value(ofDigit: UInt8(ascii: "a")) == 10)
        #expect(Hex.value(ofDigit: UInt8(ascii: "F")) == 15)
        #expect(Hex.value(ofDigit: UInt8(ascii: "g")) == nil)
        #expect(Hex.value(ofDigit: UInt8(ascii: "/")) == nil)
        #expect(Hex.value(ofDigit: UInt8(ascii: ":")) == nil)
    }
}
