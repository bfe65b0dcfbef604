import ConfideJSON
import Testing

@Suite("JSONScanner")
struct JSONScannerTests {
    private func scan<T>(_ text: String, _ body: (inout JSONScanner) throws(JSONError) -> T) throws(JSONError) -> T {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in
            var scanner = JSONScanner(buffer, maximumDepth: 4)
            return try body(&scanner)
        }
    }

    @Test func walksContainersAndReadsScalars() throws {
        let result = try scan(#" {"a": [1, -2.5e1, true, null, "x\ty"], "b": {}} "#) { scanner throws(JSONError) in
            var seen: [String] = []
            try scanner.openObject()
            while let key = try scanner.nextKey() {
                seen.append(key)
                if key == "a" {
                    try scanner.openArray()
                    #expect(try scanner.nextElement())
                    #expect(try scanner.readNumber().integer(as: Int8.self) == 1)
                    #expect(try scanner.nextElement())
                    #expect(try scanner.readNumber().value == -25)
                    #expect(try scanner.nextElement())
                    #expect(try scanner.readBool())
                    #expect(try scanner.nextElement())
                    try scanner.readNull()
                    #expect(try scanner.nextElement())
                    #expect(try scanner.readString(maximumLength: 3) == "x\ty")
                    #expect(try !scanner.nextElement())
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.expectEnd()
            return seen
        }
        #expect(result == ["a", "b"])
    }

    @Test func refusesBadSyntaxDepthAndEncoding() {
        for text in [
            "[1,]", "[,1]", "{\"a\" 1}", "{\"a\":1,}", "[1 2]", "[[[[[1]]]]]", "\"\u{1}\"", "01", "1.", "-",
            "[\"\\ud800\"]", "]",
        ] {
            #expect(throws: JSONError.self, "\(text)") {
                try scan(text) { scanner throws(JSONError) in
                    try scanner.skipValue()
                    try scanner.expectEnd()
                }
            }
        }
        let limit = Result { () throws(JSONError) in
            try scan("[[[[[1]]]]]") { scanner throws(JSONError) in try scanner.skipValue() }
        }
        #expect(throws: JSONError.self) { try limit.get() }
        if case .failure(let error) = limit { #expect(error.isLimit) }
        #expect(throws: JSONError.self) {
            try [UInt8]([0x22, 0xC0, 0x80, 0x22]).withUnsafeBufferPointer { buffer throws(JSONError) in
                var scanner = JSONScanner(buffer)
                try scanner.readString { _ in }
            }
        }
    }
}
