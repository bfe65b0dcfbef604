import ConfideSDK
import Testing

@Suite("Content-Type")
struct ContentTypeTests {
    @Test func mediaTypeAndParameters() throws {
        let type = try #require(ContentType(#" Application/JSON ; Charset="UTF-8" ;profile=x;  q=1 "#))
        #expect(type.mediaType == "application/json")
        #expect(type.parameters == ["charset": "UTF-8", "profile": "x", "q": "1"])
        #expect(type.charset == "utf-8")
        #expect(type.isJSON)
    }

    @Test func quotedValuesMayHoldSemicolonsAndEscapes() throws {
        let type = try #require(ContentType(#"multipart/form-data; boundary="a;b\"c"; charset=latin1"#))
        #expect(type.mediaType == "multipart/form-data")
        #expect(type.parameters["boundary"] == #"a;b"c"#)
        #expect(type.charset == "latin1")
        #expect(!type.isJSON)
    }

    /// Malformed parameters are left out and the rest still count; the first of repeated names wins.
    @Test func malformedParametersAreLeftOut() throws {
        let type = try #require(ContentType(#"text/plain; =x; novalue; a=; b="open; c=1; c=2"#))
        #expect(type.mediaType == "text/plain")
        #expect(type.parameters == [:], "b's quoted string never closes, so it swallows the rest")
        let repeated = try #require(ContentType("text/plain; c=1; bad value; c=2"))
        #expect(repeated.parameters == ["c": "1"])
    }

    @Test func structuredSyntaxSuffixIsJSON() {
        #expect(ContentType("application/problem+json")?.isJSON == true)
        #expect(ContentType("application/jsonl")?.isJSON == false)
    }

    @Test(arguments: [
        "", "json", "/json", "application/", "text /plain", "text/ plain", "text/plain x", "tëxt/plain",
        "text/plain/extra",
    ])
    func notAMediaType(value: String) {
        #expect(ContentType(value) == nil)
    }
}
