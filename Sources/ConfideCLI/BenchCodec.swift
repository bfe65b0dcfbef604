import ArgumentParser
import ConfideJSON
import ConfideKServe
import ConfideSDK
import ConfideTensors
import Foundation
import NIOCore

/// `confide bench codec`: the peak memory and time of decoding large and hostile KServe v2 request bodies.
struct BenchCodec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Measure the peak memory of decoding large and hostile KServe v2 requests (Linux).")

    @Option(help: "The size of each request body in bytes.")
    var bodySize = 16 << 20

    func run() throws {
        guard bodySize >= 1024 else { throw ValidationError("--body-size must be at least 1024") }
        print("case                                   body MiB  peak +MiB  factor   time ms  result")
        for (name, body, headerLength) in cases() {
            let size = body.readableBytes
            let (peak, milliseconds, result) = measure {
                do throws(KServeCodecError) {
                    let request = try KServeCodec.decodeRequest(body: body, headerLength: headerLength)
                    return "\(request.inputs.reduce(0) { $0 + $1.buffer.count } >> 20) MiB of tensors"
                } catch {
                    return "\(error.code): \(error.message.prefix(40))"
                }
            }
            report(name, size, peak, milliseconds, result)
        }
        smallRequests()
        let tree = objects(inData: false)
        let (peak, milliseconds, result) = measure {
            (try? JSONParser.parse(Array(tree.readableBytesView))) == nil ? "refused" : "parsed"
        }
        report("{\"a\":0} as a JSONValue tree (reference)", tree.readableBytes, peak, milliseconds, result)
    }

    /// The time per request of a small request (one sentence as BYTES, the shape of an embedding call) and of
    /// its response (384 FP32 values), beside parsing the same request into a `JSONValue` tree.
    private func smallRequests() {
        let input = #"{"name":"text","shape":[1],"datatype":"BYTES","data":["A cat sat on the mat."]}"#
        let body = ByteBuffer(string: #"{"id":"1","inputs":[\#(input)]}"#)
        let iterations = 100_000
        let clock = ContinuousClock()
        func microseconds(_ body: () -> Void) -> Double {
            let start = clock.now
            for _ in 0..<iterations { body() }
            let elapsed = clock.now - start
            return (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
                / Double(iterations)
        }
        let decode = microseconds { _ = try? KServeCodec.decodeRequest(body: body, headerLength: nil) }
        let tree = microseconds { _ = try? JSONParser.parse(Array(body.readableBytesView)) }
        let values = (0..<384).map { Float($0) / 384 }
        guard let output = HostTensor(name: "embedding", dataType: .fp32, shape: [1, 384], values: values) else {
            return
        }
        let request = InferRequest(id: "1", inputs: [])
        let encode = microseconds {
            _ = try? KServeCodec.encodeResponse(model: "minilm", version: "1", request: request, outputs: [output])
        }
        print(
            String(format: "small request: decode %.2f µs (a JSONValue tree of it: %.2f µs); ", decode, tree)
                + String(format: "384 FP32 response: encode %.2f µs", encode))
    }

    private func report(_ name: String, _ size: Int, _ peak: Int, _ milliseconds: Double, _ result: String) {
        let columns = String(
            format: "%8.1f  %9.1f  %6.2f  %8.1f", Double(size) / 1_048_576, Double(peak) / 1_048_576,
            Double(peak) / Double(size), milliseconds)
        print(name.padding(toLength: 38, withPad: " ", startingAt: 0) + " " + columns + "  " + result)
    }

    /// The bodies measured: each close to `bodySize` bytes.
    private func cases() -> [(String, ByteBuffer, String?)] {
        let header = #"{"inputs":[{"name":"x","datatype":"#
        func repeated(_ datatype: String, _ value: String) -> ByteBuffer {
            let count = (bodySize - 128) / (value.utf8.count + 1)
            var body = ByteBuffer(string: header + #""\#(datatype)","shape":[\#(count)],"data":["#)
            for index in 0..<count { body.writeString(index == 0 ? value : "," + value) }
            body.writeString("]}]}")
            return body
        }
        let binarySize = bodySize / 4 * 4
        var binary = ByteBuffer(
            string: header + #""FP32","shape":[\#(bodySize / 4)],"parameters":{"binary_data_size":\#(binarySize)}}]}"#)
        let jsonLength = binary.readableBytes
        binary.writeRepeatingByte(0, count: binarySize)
        var deep = ByteBuffer(string: #"{"inputs":[],"x":"#)
        deep.writeRepeatingByte(UInt8(ascii: "["), count: bodySize / 2)
        deep.writeRepeatingByte(UInt8(ascii: "]"), count: bodySize / 2)
        deep.writeString("}")
        return [
            ("FP64 [0,0,...]", repeated("FP64", "0"), nil),
            ("FP32 [0.1234567,...]", repeated("FP32", "0.1234567"), nil),
            ("BYTES [\"\",\"\",...]", repeated("BYTES", #""""#), nil),
            ("BOOL [true,...]", repeated("BOOL", "true"), nil),
            ("FP32 binary", binary, String(jsonLength)),
            ("{\"a\":0} objects in data", objects(inData: true), nil),
            ("{\"a\":0} objects in an unknown member", objects(inData: false), nil),
            ("[[[[... nested arrays", deep, nil),
        ]
    }

    /// A body of `{"a":0}` objects, as an input's data or in a member the codec skips.
    private func objects(inData: Bool) -> ByteBuffer {
        let count = (bodySize - 128) / 8
        let input = #"{"name":"x","datatype":"INT8","shape":[\#(inData ? count : 1)],"data":"#
        var body = ByteBuffer(string: inData ? #"{"inputs":[\#(input)["# : #"{"inputs":[\#(input)[1]}],"x":["#)
        for index in 0..<count { body.writeString(index == 0 ? #"{"a":0}"# : #",{"a":0}"#) }
        body.writeString(inData ? "]}]}" : "]}")
        return body
    }

    /// Runs `body` and returns how far the resident set grew above where it started, the time, and its result.
    private func measure(_ body: () -> String) -> (Int, Double, String) {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = status("VmRSS")
        let clock = ContinuousClock()
        let start = clock.now
        let result = body()
        let elapsed = clock.now - start
        let peak = status("VmHWM") - before
        let milliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
        return (max(peak, 0), milliseconds, result)
    }

    /// A size field of `/proc/self/status`, in bytes.
    private func status(_ field: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}
