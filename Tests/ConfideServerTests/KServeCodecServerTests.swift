import ConfideClient
import ConfideHTTPClient
import ConfideSDK
import ConfideServerTestSupport
import ConfideTensors
import ConfideTestSupport
import NIOHTTP1
import Testing

@Suite("The KServe v2 codec through the server and the Swift client")
struct KServeCodecServerTests {
    @Test func everyDataTypeRoundTripsThroughTheEchoHandler() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try await KServeClient.connect(host: "127.0.0.1", port: server.port)
        for binary in [false, true] {
            let inputs = try DataType.allCases.map { type in
                let tensor = try #require(HostTensor.edgeValues(type, name: "in_\(type.name)"))
                return InferTensor(
                    name: tensor.name, dataType: tensor.dataType, shape: tensor.shape, data: Array(tensor.buffer.bytes))
            }
            let outputs = try await client.infer(model: "echo", inputs: inputs, binary: binary)
            #expect(outputs.count == inputs.count)
            for (output, input) in zip(outputs, inputs) {
                #expect(output.dataType == input.dataType && output.shape == input.shape)
                #expect(output.data == input.data, "\(input.dataType) binary \(binary)")
            }
        }
        await client.connection.close()
    }

    @Test func limitsAnswer413AndMalformedRequests400() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let tooDeep = try await send(server.port, .POST, "/v2/models/echo/infer", body: #"{"x":\#(deep),"inputs":[]}"#)
        #expect(tooDeep.status == .payloadTooLarge)
        #expect(tooDeep.text.contains("nested"))
        let huge = try await send(
            server.port, .POST, "/v2/models/echo/infer",
            body: #"{"inputs":[{"name":"x","datatype":"FP64","shape":[1000000000],"data":[1,2,3]}]}"#)
        #expect(huge.status == .badRequest)
        #expect(huge.text.contains("has 3 values but shape [1000000000] needs 1000000000"))
        let unknown = try await send(
            server.port, .POST, "/v2/models/echo/infer",
            body: #"{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}],"outputs":[{"name":"nope"}]}"#)
        #expect(unknown.status == .badRequest)
        #expect(unknown.text.contains("no output named 'nope'"))
    }
}
