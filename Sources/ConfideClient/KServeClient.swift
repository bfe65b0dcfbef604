public import ConfideHost
import ConfideJSON
import ConfideSDK
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
    public func infer(model: String, version: String? = nil, inputs: [HostTensor], binary: Bool = false)
        async throws -> [HostTensor]
    {
        let response = try await connection.send(Self.request(model: model, version: version, inputs: inputs, binary: binary))
        guard response.status == .ok else {
            throw KServeError(status: Int(response.status.code), message: Self.errorMessage(response))
        }
        return try Self.outputs(of: response)
    }

    /// The HTTP request for an inference call.
    public static func request(model: String, version: String?, inputs: [HostTensor], binary: Bool) -> ClientRequest {
        var writer = JSONWriter()
        writer.raw("{\"inputs\":[")
        for (index, input) in inputs.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw("{\"name\":")
            writer.string(input.name)
            writer.raw(",\"datatype\":")
            writer.string(input.dataType.name)
            writer.raw(",\"shape\":")
            writer.value(.array(input.shape.map { .integer($0) }))
            if binary {
                writer.raw(",\"parameters\":{\"binary_data_size\":")
                writer.integer(input.buffer.count)
                writer.raw("}")
            } else {
                writer.raw(",\"data\":")
                writer.value(jsonData(input))
            }
            writer.raw("}")
        }
        writer.raw("]")
        if binary { writer.raw(",\"parameters\":{\"binary_data_output\":true}") }
        writer.raw("}")
        var body = ByteBuffer(bytes: writer.bytes)
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if binary {
            for input in inputs { body.writeBytes(input.buffer.bytes) }
            headers = ["Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(writer.bytes.count)]
        }
        let uri = version.map { "/v2/models/\(model)/versions/\($0)/infer" } ?? "/v2/models/\(model)/infer"
        return ClientRequest(method: .POST, uri: uri, headers: headers, body: body)
    }

    /// Decodes the outputs of a successful inference response (JSON, or JSON header plus binary data).
    public static func outputs(of response: ClientResponse) throws -> [HostTensor] {
        var body = response.body
        let headerLength = response.headers.first(name: "Inference-Header-Content-Length").flatMap { Int($0) }
        guard let json = body.readBytes(length: headerLength ?? body.readableBytes) else {
            throw KServeError(status: 0, message: "the response's JSON header is truncated")
        }
        guard let outputs = try JSONParser.parse(json).objectValue?["outputs"]?.arrayValue else {
            throw KServeError(status: 0, message: "the response has no outputs")
        }
        return try outputs.map { value in
            guard let output = value.objectValue, let name = output["name"]?.stringValue,
                  let typeName = output["datatype"]?.stringValue, let dataType = DataType(name: typeName),
                  let shape = output["shape"]?.arrayValue?.compactMap(\.int64Value)
            else { throw KServeError(status: 0, message: "malformed output in the response") }
            if let size = output["parameters"]?.objectValue?["binary_data_size"]?.int64Value {
                guard let slice = body.readSlice(length: Int(size)),
                      let buffer = slice.withUnsafeReadableBytes({ TensorBuffer(copying: $0) })
                else { throw KServeError(status: 0, message: "binary data of output '\(name)' is truncated") }
                return HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer)
            }
            guard let data = output["data"]?.arrayValue, let tensor = tensor(name, dataType, shape, data) else {
                throw KServeError(status: 0, message: "output '\(name)' has unreadable data")
            }
            return tensor
        }
    }

    private static func jsonData(_ tensor: HostTensor) -> JSONValue {
        switch tensor.dataType {
        case .bytes: return .array((tensor.strings() ?? []).map { .string($0) })
        case .bool: return .array((tensor.values(as: UInt8.self) ?? []).map { .bool($0 != 0) })
        case .fp32: return .array((tensor.values(as: Float.self) ?? []).map { .double(Double($0)) })
        case .fp64: return .array((tensor.values(as: Double.self) ?? []).map { .double($0) })
        case .int32: return .array((tensor.values(as: Int32.self) ?? []).map { .integer(Int64($0)) })
        case .int64: return .array((tensor.values(as: Int64.self) ?? []).map { .integer($0) })
        case .uint8: return .array((tensor.values(as: UInt8.self) ?? []).map { .integer(Int64($0)) })
        case .int8: return .array((tensor.values(as: Int8.self) ?? []).map { .integer(Int64($0)) })
        case .int16: return .array((tensor.values(as: Int16.self) ?? []).map { .integer(Int64($0)) })
        case .uint16: return .array((tensor.values(as: UInt16.self) ?? []).map { .integer(Int64($0)) })
        case .uint32: return .array((tensor.values(as: UInt32.self) ?? []).map { .integer(Int64($0)) })
        case .uint64: return .array((tensor.values(as: UInt64.self) ?? []).map { .double(Double($0)) })
        case .fp16: return .array((tensor.values(as: Float16.self) ?? []).map { .double(Double($0)) })
        case .bf16:
            return .array((tensor.values(as: UInt16.self) ?? []).map { .double(Double(Float(bitPattern: UInt32($0) << 16))) })
        }
    }

    private static func tensor(_ name: String, _ dataType: DataType, _ shape: [Int64], _ data: [JSONValue]) -> HostTensor? {
        switch dataType {
        case .bytes: return HostTensor(name: name, strings: data.compactMap(\.stringValue), shape: shape)
        case .bool: return HostTensor(name: name, dataType: dataType, shape: shape, values: data.compactMap { $0.boolValue.map { UInt8($0 ? 1 : 0) } })
        case .fp32: return HostTensor(name: name, dataType: dataType, shape: shape, values: data.compactMap { $0.doubleValue.map { Float($0) } })
        case .fp64: return HostTensor(name: name, dataType: dataType, shape: shape, values: data.compactMap(\.doubleValue))
        case .int32: return HostTensor(name: name, dataType: dataType, shape: shape, values: data.compactMap { $0.int64Value.flatMap { Int32(exactly: $0) } })
        case .int64: return HostTensor(name: name, dataType: dataType, shape: shape, values: data.compactMap(\.int64Value))
        default: return nil
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
