import ConfideEnvelope
import Testing

/// RFC 9292 §5.1 examples (written from the RFC's figures) and the decoder's rejection cases.
struct BinaryHTTPTests {
    /// RFC 9292 Figure 8: the example request in known-length form.
    static let figure8 = """
        0003474554056874747073000a2f68656c6c6f2e747874406c0a757365722d6167656e74346375726c2f372e31362e33206c6962\
        6375726c2f372e31362e33204f70656e53534c2f302e392e376c207a6c69622f312e322e3304686f73740f7777772e6578616d70\
        6c652e636f6d0f6163636570742d6c616e677561676506656e2c206d690000
        """

    /// RFC 9292 Figure 9: the same request in indeterminate-length form, followed by 10 bytes of padding.
    static let figure9 = """
        0203474554056874747073000a2f68656c6c6f2e7478740a757365722d6167656e74346375726c2f372e31362e33206c69626375\
        726c2f372e31362e33204f70656e53534c2f302e392e376c207a6c69622f312e322e3304686f73740f7777772e6578616d706c65\
        2e636f6d0f6163636570742d6c616e677561676506656e2c206d6900000000000000000000000000
        """

    static let exampleRequest = BinaryHTTPRequest(
        method: "GET",
        scheme: "https",
        authority: "",
        path: "/hello.txt",
        headerFields: [
            BinaryHTTPField(name: "user-agent", value: "curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"),
            BinaryHTTPField(name: "host", value: "www.example.com"),
            BinaryHTTPField(name: "accept-language", value: "en, mi"),
        ]
    )

    private func expectMalformed(_ bytes: [UInt8], _ code: EnvelopeError.Code = .malformedBinaryHTTP) {
        let error = #expect(throws: EnvelopeError.self) { try BinaryHTTPRequest(decoding: bytes) }
        #expect(error?.code == code)
    }

    @Test func decodesTheKnownLengthExample() throws {
        #expect(try BinaryHTTPRequest(decoding: try hex(Self.figure8)) == Self.exampleRequest)
    }

    @Test func decodesTheIndeterminateLengthExampleWithPadding() throws {
        #expect(try BinaryHTTPRequest(decoding: try hex(Self.figure9)) == Self.exampleRequest)
    }

    @Test func encodesTheKnownLengthExampleByteForByte() throws {
        #expect(try Self.exampleRequest.encoded() == (try hex(Self.figure8)))
        #expect(Self.exampleRequest.headerValue("Host") == "www.example.com")
    }

    @Test func acceptsZeroPaddingAndRejectsNonZeroPadding() throws {
        let message = try hex(Self.figure8)
        #expect(try BinaryHTTPRequest(decoding: message + [UInt8](repeating: 0, count: 32)) == Self.exampleRequest)
        self.expectMalformed(message + [0, 0, 1])
    }

    @Test func acceptsTruncationAtSectionBoundaries() throws {
        // Control data only: RFC 9458 Appendix A's request.
        let controlOnly = try hex("00034745540568747470730b6578616d706c652e636f6d012f")
        let expected = BinaryHTTPRequest(method: "GET", scheme: "https", authority: "example.com", path: "/")
        #expect(try BinaryHTTPRequest(decoding: controlOnly) == expected)
        #expect(try BinaryHTTPRequest(decoding: controlOnly + [0]) == expected)
        var withContent = expected
        withContent.content = Array("hi".utf8)
        #expect(try BinaryHTTPRequest(decoding: controlOnly + [0, 2] + Array("hi".utf8)) == withContent)

        let indeterminate = [2] + controlOnly.dropFirst()
        #expect(try BinaryHTTPRequest(decoding: Array(indeterminate)) == expected)
        #expect(try BinaryHTTPRequest(decoding: Array(indeterminate) + [0, 2, 0x68, 0x69, 0]) == withContent)
    }

    @Test func joinsIndeterminateLengthChunksAndReadsTrailers() throws {
        let message: [UInt8] =
            [2, 4] + Array("POST".utf8) + [5] + Array("https".utf8) + [0, 1, 0x2f]
            + [1, 0x61, 1, 0x62, 0]  // header a: b
            + [2, 0x68, 0x69, 1, 0x21, 0]  // chunks "hi", "!"
            + [1, 0x74, 1, 0x75, 0]  // trailer t: u
        let request = try BinaryHTTPRequest(decoding: message)
        #expect(request.method == "POST")
        #expect(request.headerFields == [BinaryHTTPField(name: "a", value: "b")])
        #expect(request.content == Array("hi!".utf8))
        #expect(request.trailerFields == [BinaryHTTPField(name: "t", value: "u")])
    }

    @Test func lowercasesFieldNames() throws {
        let message: [UInt8] =
            [0, 3] + Array("GET".utf8) + [5] + Array("https".utf8) + [0, 1, 0x2f]
            + [6, 4] + Array("Host".utf8) + [0]
        #expect(try BinaryHTTPRequest(decoding: message).headerFields == [BinaryHTTPField(name: "host", value: "")])
    }

    @Test func rejectsMalformedRequests() throws {
        let control: [UInt8] = [3] + Array("GET".utf8) + [5] + Array("https".utf8) + [0, 1, 0x2f]
        self.expectMalformed([])
        self.expectMalformed([4] + control)  // unknown framing indicator
        self.expectMalformed([1, 0x40, 0xc8])  // a response
        self.expectMalformed([0, 3] + Array("GET".utf8))  // ends inside control data
        self.expectMalformed([0, 0, 5] + Array("https".utf8) + [0, 1, 0x2f])  // empty method
        self.expectMalformed([0, 3] + Array("G T".utf8) + [5] + Array("https".utf8) + [0, 1, 0x2f])
        self.expectMalformed([0, 3] + Array("GET".utf8) + [5] + Array("ht:ps".utf8) + [0, 1, 0x2f])
        self.expectMalformed([0] + control + [0, 1, 0x2f, 0x0a])  // control byte in path
        self.expectMalformed([0] + control + [10, 1, 0x61])  // header section length past the end
        self.expectMalformed([0] + control + [4, 1, 0x61, 5, 0x62])  // field value past the section
        self.expectMalformed([0] + control + [4, 1, 0x61, 1, 0x0d])  // CR in a value
        self.expectMalformed([0] + control + [4, 1, 0x3a, 1, 0x62])  // ":" is not a token character
        self.expectMalformed([0] + control + [4, 1, 0x61, 1, 0xff])  // invalid UTF-8
        self.expectMalformed([0] + control + [0, 9, 0x61])  // content length past the end
        self.expectMalformed([2] + control + [1, 0x61, 1, 0x62])  // header section without terminator
        self.expectMalformed([2] + control + [0, 2, 0x68, 0x69])  // content without terminating chunk
        self.expectMalformed([0] + control + [0xc0])  // truncated variable-length integer
    }

    @Test func enforcesLimits() throws {
        let control: [UInt8] = [3] + Array("GET".utf8) + [5] + Array("https".utf8) + [0, 1, 0x2f]
        let fields = [UInt8]([1, 0x61, 0, 1, 0x62, 0])
        let limits = BinaryHTTPLimits(maximumFieldCount: 1, maximumContentSize: 2)
        #expect(throws: EnvelopeError.binaryHTTPLimitExceeded(reason: "")) {
            try BinaryHTTPRequest(decoding: [0] + control + [6] + fields, limits: limits)
        }
        #expect(throws: EnvelopeError.binaryHTTPLimitExceeded(reason: "")) {
            try BinaryHTTPRequest(decoding: [0] + control + [0, 3, 1, 2, 3], limits: limits)
        }
        #expect(throws: EnvelopeError.binaryHTTPLimitExceeded(reason: "")) {
            try BinaryHTTPRequest(decoding: [2] + control + [0, 2, 1, 2, 1, 3, 0], limits: limits)
        }
        let huge: [UInt8] = [0] + control + [0xbf, 0xff, 0xff, 0xff]
        #expect(throws: EnvelopeError.binaryHTTPLimitExceeded(reason: "")) {
            try BinaryHTTPRequest(decoding: huge)
        }
    }

    @Test func refusesToEncodeInvalidRequests() {
        var request = Self.exampleRequest
        request.headerFields.append(BinaryHTTPField(name: "x", value: "a\r\nb: c"))
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) { try request.encoded() }
        request = Self.exampleRequest
        request.method = "GE T"
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) { try request.encoded() }
    }

    @Test func roundTripsResponses() throws {
        let response = BinaryHTTPResponse(
            status: 200,
            headerFields: [BinaryHTTPField(name: "content-type", value: "application/json")],
            content: Array(#"{"ok":true}"#.utf8),
            trailerFields: [BinaryHTTPField(name: "x-trailer", value: "1")]
        )
        let encoded = try response.encoded()
        #expect(encoded.prefix(3) == [1, 0x40, 0xc8])
        #expect(try BinaryHTTPResponse(decoding: encoded) == response)
        #expect(response.headerValue("Content-Type") == "application/json")
    }

    @Test func skipsInformationalResponses() throws {
        let informational: [UInt8] = [0x40, 0x67, 6, 4] + Array("link".utf8) + [0]  // 103 Early Hints
        let final: [UInt8] = [0x40, 0xc8, 0, 2] + Array("ok".utf8) + [0]
        let decoded = try BinaryHTTPResponse(decoding: [1] + informational + informational + final)
        #expect(decoded == BinaryHTTPResponse(status: 200, content: Array("ok".utf8)))
        let limits = BinaryHTTPLimits(maximumInformationalResponses: 1)
        #expect(throws: EnvelopeError.binaryHTTPLimitExceeded(reason: "")) {
            try BinaryHTTPResponse(decoding: [1] + informational + informational + final, limits: limits)
        }
        #expect(throws: EnvelopeError.malformedBinaryHTTP(reason: "")) {
            try BinaryHTTPResponse(decoding: [1] + informational)
        }
    }

    @Test func decodesIndeterminateLengthResponses() throws {
        let message: [UInt8] = [3, 0x41, 0x94, 1, 0x61, 1, 0x62, 0, 2, 0x68, 0x69, 0, 0, 0, 0]
        let expected = BinaryHTTPResponse(
            status: 404,
            headerFields: [BinaryHTTPField(name: "a", value: "b")],
            content: Array("hi".utf8)
        )
        #expect(try BinaryHTTPResponse(decoding: message) == expected)
    }

    @Test func rejectsMalformedResponses() {
        for message: [UInt8] in [[1, 0x3f], [1, 0x42, 0x58], [0, 0x40, 0xc8], [1], [1, 0x40, 0xc8, 5, 1]] {
            #expect(throws: EnvelopeError.malformedBinaryHTTP(reason: "")) {
                try BinaryHTTPResponse(decoding: message)
            }
        }
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) { try BinaryHTTPResponse(status: 103).encoded() }
    }
}
