public import ConfideHTTPClient
import ConfideJSON
import ConfideKServe
import ConfideTensors
import NIOCore
import NIOHTTP1

/// A client of the KServe Open Inference Protocol v2 over one connection.
public final class KServeClient: Sendable {
    /// The connection it uses.
    public let connection: HTTPConnection

    /// Uses an open connection.
    public init(connection: HTTPConnection) {
        self.connection = connection
    }

    /// Connects to a server.
    public static func connect(host: String, port: Int) async throws -> KServeClient {
        KServeClient(connection: try await HTTPConnection.connect(host: host, port: port))
    }

    /// Sends an inference request and returns the outputs. With `binary`, inputs travel and outputs
    /// come back as raw bytes (the binary tensor extension); otherwise as JSON.
    public func infer(model: String, version: String? = nil, inputs: [InferTensor], binary: Bool = false)
        async throws -> [InferTensor]
    {
        let response = try await connection.send(
            try Self.request(model: model, version: version, inputs: inputs, binary: binary))
        guard response.status == .ok else {
            throw KServeError(status: Int(response.status.code), message: Self.errorMessage(response))
        }
        return try Self.outputs(of: response)
    }

    /// The HTTP request for an inference call.
    public static func request(model: String, version: String?, inputs: [InferTensor], binary: Bool) throws
        -> ClientRequest
    {
        var tensors: [HostTensor] = []
        for input in inputs {
            guard let tensor = input.hostTensor else {
                throw KServeError(status: 0, message: "out of memory for input '\(input.name)'")
            }
            tensors.append(tensor)
        }
        let encoded = KServeCodec.encodeRequest(inputs: tensors, binary: binary)
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let jsonLength = encoded.jsonLength {
            headers = [
                "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(jsonLength),
            ]
        }
        let uri = version.map { "/v2/models/\(model)/versions/\($0)/infer" } ?? "/v2/models/\(model)/infer"
        return ClientRequest(method: .POST, uri: uri, headers: headers, body: encoded.body)
    }

    /// Decodes the outputs of a successful inference response (JSON, or JSON header plus binary data).
    public static func outputs(of response: ClientResponse) throws -> [InferTensor] {
        do throws(KServeCodecError) {
            return try KServeCodec.decodeResponse(
                body: response.body, headerLength: response.headers.first(name: "Inference-Header-Content-Length")
            ).map(InferTensor.init)
        } catch {
            throw KServeError(status: 0, message: error.message)
        }
    }

    static func errorMessage(_ response: ClientResponse) -> String {
        let json = try? JSONParser.parse(Array(response.body.readableBytesView))
        return json?.objectValue?["error"]?.stringValue ?? json?.objectValue?["message"]?.stringValue ?? response.text
    }
}

/// The server answered an inference call with an error.
public struct KServeError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status (0 when the response itself was malformed).
    public let status: Int
    /// The server's message.
    public let message: String

    public var description: String { status == 0 ? message : "HTTP \(status): \(message)" }
}
