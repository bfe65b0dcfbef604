import ConfideJSON
import ConfideKServe
import ConfideSDK
import ConfideTensors
import ConfideTestSupport
import NIOCore
import Testing

private func sameTensor(_ a: HostTensor, _ b: HostTensor) -> Bool {
    a.name == b.name && a.dataType == b.dataType && a.shape == b.shape && Array(a.buffer.bytes) == Array(b.buffer.bytes)
}

/// Decodes a request body given as JSON text.
private func decode(_ json: String, limits: KServeLimits = KServeLimits()) throws(KServeCodecError) -> InferRequest {
    try KServeCodec.decodeRequest(body: ByteBuffer(string: json), headerLength: nil, limits: limits)
}

/// The codec error decoding `json` raises, or `nil` when it decodes.
private func refusal(_ json: String, limits: KServeLimits = KServeLimits()) -> KServeCodecError? {
    do {
        _ = try decode(json, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// A request with one input whose members are the given JSON text.
private func request(input members: String) -> String { #"{"inputs":[{\#(members)}]}"# }

@Suite("The KServe v2 codec")
struct KServeCodecTests {
    @Test(arguments: DataType.allCases, [false, true])
    func clientRequestsDecodeOnTheServer(dataType: DataType, binary: Bool) throws {
        let input = try #require(HostTensor.edgeValues(dataType))
        let encoded = KServeCodec.encodeRequest(inputs: [input], binary: binary)
        #expect((encoded.jsonLength != nil) == binary)
        let decoded = try KServeCodec.decodeRequest(
            body: encoded.body, headerLength: encoded.jsonLength.map { String($0) })
        #expect(decoded.inputs.count == 1)
        #expect(sameTensor(try #require(decoded.inputs.first), input))
        #expect(decoded.binaryOutputsByDefault == binary)
    }

    @Test(arguments: DataType.allCases, [false, true])
    func serverResponsesDecodeOnTheClient(dataType: DataType, binary: Bool) throws {
        let output = try #require(HostTensor.edgeValues(dataType, name: "out"))
        let other = try #require(HostTensor.edgeValues(.int32, name: "other"))
        let request = InferRequest(id: "r", inputs: [], binaryOutputsByDefault: binary)
        let encoded = try KServeCodec.encodeResponse(
            model: "m", version: "1", request: request, outputs: [output, other])
        let decoded = try KServeCodec.decodeResponse(
            body: encoded.body, headerLength: encoded.jsonLength.map { String($0) })
        #expect(decoded.count == 2)
        #expect(sameTensor(decoded[0], output))
        #expect(sameTensor(decoded[1], other))
        #expect(
            encoded.body.readableBytes
                <= KServeCodec.responseSizeEstimate(
                    model: "m", version: "1", request: request, outputs: [output, other]))
    }

    @Test(arguments: [DataType.fp16, .bf16, .fp32, .fp64])
    func theSizeEstimateBoundsRandomFloats(dataType: DataType) throws {
        var generator = SystemRandomNumberGenerator()
        let count = 20_000
        let size = try #require(dataType.elementSize)
        let bytes = (0..<(count * size)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let tensor = try #require(
            bytes.withUnsafeBytes { raw in TensorBuffer(copying: raw) }.map {
                HostTensor(name: "r", dataType: dataType, shape: [Int64(count)], buffer: $0)
            })
        let request = InferRequest(inputs: [])
        let encoded = try KServeCodec.encodeResponse(model: "m", version: "1", request: request, outputs: [tensor])
        #expect(
            encoded.body.readableBytes
                <= KServeCodec.responseSizeEstimate(
                    model: "m", version: "1", request: request, outputs: [tensor]))
    }

    @Test func responseTextIsTheFormatClientsRead() throws {
        let floats = try #require(HostTensor(name: "f", dataType: .fp32, shape: [3], values: [Float(1), 0.5, .nan]))
        let bools = try #require(HostTensor(name: "b", dataType: .bool, shape: [1], values: [UInt8(1)]))
        let text = try #require(HostTensor(name: "s\"", strings: ["a\u{1}é"]))
        let request = InferRequest(
            id: "x", inputs: [],
            outputs: [
                RequestedOutput(name: "f"), RequestedOutput(name: "b"), RequestedOutput(name: "s\"", binary: true),
            ])
        let encoded = try KServeCodec.encodeResponse(
            model: "m", version: "2", request: request, outputs: [text, bools, floats])
        let header =
            #"{"model_name":"m","model_version":"2","id":"x","outputs":["#
            + #"{"name":"f","datatype":"FP32","shape":[3],"data":[1,0.5,null]},"#
            + #"{"name":"b","datatype":"BOOL","shape":[1],"data":[true]},"#
            + #"{"name":"s\"","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":8}}]}"#
        #expect(encoded.jsonLength == header.utf8.count)
        #expect(Array(encoded.body.readableBytesView) == Array(header.utf8) + [4, 0, 0, 0, 0x61, 0x01, 0xC3, 0xA9])
        let plain = try KServeCodec.encodeResponse(
            model: "m", version: "2", request: InferRequest(inputs: []), outputs: [text])
        #expect(
            String(buffer: plain.body)
                == #"{"model_name":"m","model_version":"2","outputs":[{"name":"s\"","datatype":"BYTES","shape":[1],"data":["a\u0001é"]}]}"#
        )
        #expect(plain.jsonLength == nil)
    }

    @Test func anOutputTheModelDidNotProduceIsRefused() throws {
        let output = try #require(HostTensor.edgeValues(.int8, name: "y"))
        let request = InferRequest(inputs: [], outputs: [RequestedOutput(name: "z")])
        #expect(throws: KServeCodecError.unknownOutput("")) {
            try KServeCodec.encodeResponse(model: "m", version: "1", request: request, outputs: [output])
        }
    }

    @Test func keysComeInAnyOrder() throws {
        let decoded = try decode(
            #"{"outputs":[{"parameters":{"binary_data":true},"name":"o"}],"inputs":[{"data":[[1,2],[3,4]],"#
                + #""shape":[2,2],"extra":{"a":[1,{"b":null}]},"datatype":"INT16","name":"x"}],"#
                + #""parameters":{"timeout":1500,"binary_data_output":true,"other":"x"},"id":"abc"}"#)
        #expect(decoded.id == "abc")
        #expect(decoded.timeout == .microseconds(1500))
        #expect(decoded.binaryOutputsByDefault)
        #expect(decoded.outputs == [RequestedOutput(name: "o", binary: true)])
        #expect(decoded.inputs.first?.values(as: Int16.self) == [1, 2, 3, 4])
        #expect(decoded.inputs.first?.shape == [2, 2])
    }

    @Test func dataMayNestUpToTheShapesRank() throws {
        let nested = try decode(
            request(input: #""name":"x","datatype":"FP64","shape":[2,1,2],"data":[[[1],[2]],[[3,4]]]"#))
        #expect(nested.inputs.first?.values(as: Double.self) == [1, 2, 3, 4])
        let scalar = try decode(request(input: #""name":"x","datatype":"INT8","shape":[],"data":[5]"#))
        #expect(scalar.inputs.first?.values(as: Int8.self) == [5])
        let tooDeep = refusal(request(input: #""name":"x","datatype":"INT8","shape":[2],"data":[[1],[2]]"#))
        #expect(tooDeep?.code == .malformed)
        #expect(tooDeep?.message.contains("rank 1") == true)
        let object = refusal(request(input: #""name":"x","datatype":"INT8","shape":[1],"data":[{"a":0}]"#))
        #expect(object?.message.contains("only numbers, booleans and strings") == true)
    }

    @Test func integersStayExactAtTheEdgesOfTheirTypes() throws {
        let unsigned = try decode(
            request(input: #""name":"u","datatype":"UINT64","shape":[2],"data":[18446744073709551615,0]"#))
        #expect(unsigned.inputs.first?.values(as: UInt64.self) == [.max, 0])
        let signed = try decode(
            request(
                input:
                    #""name":"s","datatype":"INT64","shape":[3],"data":[-9223372036854775808,9223372036854775807,-0]"#))
        #expect(signed.inputs.first?.values(as: Int64.self) == [.min, .max, 0])
        let exponent = try decode(request(input: #""name":"e","datatype":"INT32","shape":[2],"data":[1e2,3.0]"#))
        #expect(exponent.inputs.first?.values(as: Int32.self) == [100, 3])
        for (type, value) in [
            ("UINT64", "18446744073709551616"), ("UINT64", "-1"), ("INT64", "-9223372036854775809"), ("INT32", "1.5"),
            ("UINT8", "256"), ("INT8", "-129"), ("INT32", "\"1\""), ("BOOL", "1"), ("FP32", "true"), ("FP32", "null"),
        ] {
            let error = refusal(request(input: #""name":"v","datatype":"\#(type)","shape":[1],"data":[\#(value)]"#))
            #expect(error?.code == .malformed, "\(type) \(value)")
            #expect(error?.message == "input 'v': value \(value) is not a valid \(type)", "\(type) \(value)")
        }
        let bytes = refusal(request(input: #""name":"v","datatype":"BYTES","shape":[1],"data":[1]"#))
        #expect(bytes?.message == "input 'v': BYTES values must be strings")
    }

    @Test func bytesAreWrittenInTheElementLayout() throws {
        let decoded = try decode(
            request(input: #""name":"b","datatype":"BYTES","shape":[3],"data":["","a\u00e9\ud83d\ude00","\"\n"]"#))
        let input = try #require(decoded.inputs.first)
        #expect(input.byteElements() == [[], Array("aé😀".utf8), [0x22, 0x0A]])
        #expect(input.buffer.count == 3 * 4 + 1 + 2 + 4 + 2)
    }

    @Test func aHugeDeclaredShapeIsRefusedBeforeAnyAllocation() {
        let huge = refusal(request(input: #""name":"x","datatype":"FP64","shape":[1000000000],"data":[1,2,3]"#))
        #expect(huge?.code == .malformed)
        #expect(huge?.message == "input 'x' has 3 values but shape [1000000000] needs 1000000000")
        let overflowing = refusal(
            request(input: #""name":"x","datatype":"FP64","shape":[4611686018427387904,4],"data":[]"#))
        #expect(overflowing?.message.contains("is too large") == true)
        var binary = ByteBuffer(
            string:
                #"{"inputs":[{"name":"x","datatype":"FP64","shape":[1000000000],"parameters":{"binary_data_size":24}}]}"#
        )
        let jsonLength = binary.readableBytes
        binary.writeBytes([UInt8](repeating: 0, count: 24))
        #expect(throws: KServeCodecError.malformed("")) {
            try KServeCodec.decodeRequest(body: binary, headerLength: String(jsonLength))
        }
        do throws(KServeCodecError) {
            _ = try KServeCodec.decodeRequest(body: binary, headerLength: String(jsonLength))
        } catch {
            #expect(error.message == "input 'x' holds 24 bytes but shape [1000000000] of FP64 needs 8000000000")
        }
    }

    @Test func namesWithNULAreRefused() {
        let input = refusal(request(input: #""name":"a\u0000b","datatype":"INT8","shape":[1],"data":[1]"#))
        #expect(input?.code == .malformed)
        #expect(input?.message.contains("NUL") == true)
        let output = refusal(
            #"{"inputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[1]}],"outputs":[{"name":"\u0000"}]}"#)
        #expect(output?.message.contains("NUL") == true)
    }

    @Test func everyLimitIsRefusedWithAMessage() {
        let one = #"{"name":"x","datatype":"INT8","shape":[2],"data":[1,2]}"#
        let cases: [(String, KServeLimits, String)] = [
            (#"{"inputs":[\#(one)],"parameters":{"a":[[[[1]]]]}}"#, KServeLimits(maximumDepth: 4), "nested"),
            (
                #"{"inputs":[\#(one),\#(one.replacing("\"x\"", with: "\"y\""))]}"#, KServeLimits(maximumTensors: 1),
                "more than 1 tensors"
            ),
            (
                #"{"inputs":[\#(one)],"outputs":[{"name":"a"},{"name":"b"}]}"#,
                KServeLimits(maximumRequestedOutputs: 1), "more than 1 outputs"
            ),
            (
                #"{"inputs":[\#(one.replacing("\"x\"", with: "\"xyz\""))]}"#, KServeLimits(maximumNameLength: 2),
                "longer than 2 bytes"
            ),
            (#"{"id":"abcd","inputs":[\#(one)]}"#, KServeLimits(maximumIDLength: 3), "longer than 3 bytes"),
            (
                #"{"inputs":[\#(one.replacing("[2]", with: "[1,1,2]"))]}"#, KServeLimits(maximumRank: 2),
                "more than 2 dimensions"
            ),
            (#"{"inputs":[\#(one)]}"#, KServeLimits(maximumElements: 1), "limit of tensor elements"),
        ]
        for (json, limits, excerpt) in cases {
            let error = refusal(json, limits: limits)
            #expect(error?.code == .limitExceeded, "\(excerpt)")
            #expect(error?.message.contains(excerpt) == true, "\(String(describing: error)) lacks \(excerpt)")
            #expect(refusal(json) == nil, "\(json) is accepted under the default limits")
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(refusal(#"{"inputs":[\#(one)],"x":\#(deep)}"#)?.code == .limitExceeded)
    }

    @Test func malformedRequestsAreRefusedWithTheirReason() {
        let cases: [(String, String)] = [
            ("", "malformed request: invalid JSON at byte 0"),
            ("[]", "must be a JSON object"),
            (#"{"inputs":[]}"#, "\"inputs\" is empty"),
            (#"{"id":3,"inputs":[]}"#, "\"id\" must be a string"),
            (#"{}"#, "needs an \"inputs\" array"),
            (request(input: #""datatype":"INT8","shape":[1],"data":[1]"#), "has no \"name\""),
            (request(input: #""name":"x","datatype":"INT9","shape":[1],"data":[1]"#), "unknown datatype \"INT9\""),
            (request(input: #""name":"x","datatype":"INT8","shape":[-1],"data":[1]"#), "non-negative integers"),
            (request(input: #""name":"x","datatype":"INT8","shape":[1]"#), "neither \"data\" nor"),
            (request(input: #""name":"x","datatype":"FP64","shape":[1],"data":[1e400]"#), "number out of range"),
            (request(input: #""name":"x","name":"y","datatype":"INT8","shape":[1],"data":[1]"#), "twice"),
            (#"{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]} x"#, "unexpected text after"),
            (
                #"{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]},{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]}"#,
                "appears twice"
            ),
            (
                #"{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}],"parameters":{"timeout":-5}}"#,
                "timeout"
            ),
        ]
        for (json, excerpt) in cases {
            let error = refusal(json)
            #expect(error?.code == .malformed, "\(json)")
            #expect(error?.message.contains(excerpt) == true, "\(String(describing: error)) lacks \(excerpt)")
        }
    }

    @Test func binaryDataMustMatchItsShapeAndTheBody() throws {
        let input = try #require(HostTensor.edgeValues(.int32))
        let encoded = KServeCodec.encodeRequest(inputs: [input], binary: true)
        let jsonLength = try #require(encoded.jsonLength)
        var truncated = encoded.body
        truncated.moveWriterIndex(to: truncated.writerIndex - 1)
        #expect(throws: KServeCodecError.malformed("")) {
            try KServeCodec.decodeRequest(body: truncated, headerLength: String(jsonLength))
        }
        var extra = encoded.body
        extra.writeInteger(UInt8(0))
        #expect(throws: KServeCodecError.malformed("")) {
            try KServeCodec.decodeRequest(body: extra, headerLength: String(jsonLength))
        }
        for header in ["-1", "99999999999999999999", "x", String(encoded.body.readableBytes + 1)] {
            #expect(throws: KServeCodecError.malformed("")) {
                try KServeCodec.decodeRequest(body: encoded.body, headerLength: header)
            }
        }
    }

    @Test func bytesElementsOf4GiBAreRefusedWithoutTrapping() {
        let huge = repeatElement(UInt8(0), count: 1 << 32)
        #expect(throws: HandlerError.self) { try BytesElements.encodedSize([huge]) }
        var small = [UInt8](repeating: 0, count: 8)
        small.withUnsafeMutableBytes { buffer in
            #expect(throws: HandlerError.self) { try BytesElements.encode([huge], into: buffer) }
            #expect(throws: HandlerError.self) {
                try BytesElements.encode([[UInt8](repeating: 1, count: 5)], into: buffer)
            }
        }
    }

    /// Mutated requests and responses never trap the decoders, and every tensor they accept matches its shape and
    /// type (the response decoder's fuzz entry point checks its own; the server's suites check the request one).
    @Test func fuzzEntryPointsSurviveMutatedMessages() throws {
        var generator = SystemRandomNumberGenerator()
        let seeds = try DataType.allCases.flatMap { dataType -> [[UInt8]] in
            let tensor = try #require(HostTensor.edgeValues(dataType))
            let request = KServeCodec.encodeRequest(inputs: [tensor], binary: dataType.rawValue % 2 == 0)
            let response = try KServeCodec.encodeResponse(
                model: "m", version: "1",
                request: InferRequest(inputs: [], binaryOutputsByDefault: dataType.rawValue % 3 == 0),
                outputs: [tensor])
            return [request, response].map { body in
                let split =
                    body.jsonLength.map { UInt8(128 + min(127, $0 * 127 / max(body.body.readableBytes, 1))) } ?? 0
                return [split] + Array(body.body.readableBytesView)
            }
        }
        for _ in 0..<4000 {
            var bytes = seeds.randomElement(using: &generator) ?? []
            for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: index)
                default: bytes.insert(Array("[]{},:\"0-e.\\".utf8).randomElement(using: &generator) ?? 0, at: index)
                }
            }
            if let (body, headerLength) = KServeFuzz.split(bytes),
                let request = try? KServeCodec.decodeRequest(body: body, headerLength: headerLength)
            {
                #expect(request.inputs.allSatisfy { $0.consistencyProblem() == nil })
            }
            KServeFuzz.inferResponse(bytes)
        }
    }
}
