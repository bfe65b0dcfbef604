import ConfideJSON
import Testing

@Suite("JSON parsing of untrusted bytes")
struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5e3, true, false, null, "x\u00e9\n\ud83d\ude00"], "b": {}} "#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["a", "b"])
        #expect(
            object["a"] == .array([.integer(1), .double(-2500), .bool(true), .bool(false), .null, .string("xé\n😀")]))
        #expect(object["b"] == .object(JSONObject()))
    }

    @Test func keepsLargeIntegersExact() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .integer(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .integer(Int64.min))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    @Test(arguments: [
        ("", "unexpected end"), ("{", "expected a string key"), ("[1,]", "unexpected character"),
        ("01", "after the value"),
        ("1.", "after '.'"), ("1e", "exponent"), ("\"abc", "unterminated"), ("\"\\x\"", "invalid escape"),
        ("\"\\ud800\"", "unpaired surrogate"), ("{\"a\":1,\"a\":2}", "duplicate key"), ("tru", "unexpected end"),
        ("nul!", "unknown literal"), ("1e999", "out of range"), ("\"a\u{01}\"", "control character"),
        ("[1 2]", "expected ','"), ("{\"a\" 1}", "expected ':'"),
    ])
    func rejectsMalformedText(text: String, excerpt: String) {
        let error = #expect(throws: JSONError.self) { try JSONParser.parse(text) }
        #expect(error?.message.contains(excerpt) == true, "\(error?.message ?? "")")
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONError.self) { try JSONParser.parse(String(repeating: "[", count: 100_000)) }
        #expect(throws: Never.self) {
            try JSONParser.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100))
        }
    }

    @Test func writerOutputParsesBackToTheSameValue() throws {
        let value = JSONValue.object(
            JSONObject([
                "text": .string("quote \" backslash \\ control \u{01} tab \t é"),
                "numbers": .array([.integer(-7), .double(0.1), .double(1e-7), .double(3.0e20)]),
                "flags": .array([.bool(true), .null]),
            ]))
        #expect(try JSONParser.parse(value.serialized) == value)
    }

    @Test func neverTrapsOnRandomOrMutatedInput() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [#"{"inputs":[{"name":"x","shape":[1],"data":[1.5e3,"\u00e9"]}]}"#, "[[[]]]", #""\ud83d\ude00""#]
        for iteration in 0..<5000 {
            var bytes = Array(seeds[iteration % seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                }
                if bytes.isEmpty { bytes = [0x5B] }
            }
            _ = try? JSONParser.parse(bytes)
        }
    }
}
