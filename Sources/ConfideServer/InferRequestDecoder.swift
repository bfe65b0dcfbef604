import ConfideHost
import ConfideJSON
import ConfideSDK
import NIOCore

/// An output the client asked for.
struct RequestedOutput: Sendable {
    let name: String
    /// Whether it wants the output as binary data; `nil` follows the request's default.
    let binary: Bool?
}

/// A KServe v2 inference request, decoded and checked.
struct InferRequest: Sendable {
    var id: String?
    var inputs: [HostTensor]
    var outputs: [RequestedOutput]
    /// The request-level `binary_data_output` parameter: binary outputs unless an output says otherwise.
    var binaryOutputsByDefault: Bool
    /// The request-level `timeout` parameter (microseconds): how long it may wait for a worker.
    var timeout: Duration? = nil
}

/// Decodes KServe Open Inference Protocol v2 requests: JSON tensors, and the binary tensor extension
/// (a JSON header of `Inference-Header-Content-Length` bytes followed by the inputs' raw data).
enum InferRequestDecoder {
    static func decode(body: ByteBuffer, headerLength: String?) throws(APIError) -> InferRequest {
        var body = body
        let jsonLength: Int
        if let headerLength {
            guard let length = Int(headerLength), length >= 0, length <= body.readableBytes else {
                throw .badRequest(
                    "Inference-Header-Content-Length \(headerLength) is not a length within the body of \(body.readableBytes) bytes")
            }
            jsonLength = length
        } else {
            jsonLength = body.readableBytes
        }
        let jsonBytes = body.readBytes(length: jsonLength) ?? []
        let value: JSONValue
        do {
            value = try JSONParser.parse(jsonBytes)
        } catch {
            throw .badRequest("malformed request: \(error)")
        }
        guard let object = value.objectValue else { throw .badRequest("the request must be a JSON object") }
        var request = InferRequest(id: nil, inputs: [], outputs: [], binaryOutputsByDefault: false)
        if let id = object["id"] {
            guard let text = id.stringValue else { throw .badRequest("\"id\" must be a string") }
            request.id = text
        }
        if let parameters = object["parameters"] {
            guard let members = parameters.objectValue else { throw .badRequest("\"parameters\" must be an object") }
            request.binaryOutputsByDefault = members["binary_data_output"]?.boolValue ?? false
            if let timeout = members["timeout"] {
                guard let microseconds = timeout.int64Value, microseconds > 0 else {
                    throw .badRequest("the \"timeout\" parameter must be a positive number of microseconds")
                }
                request.timeout = .microseconds(microseconds)
            }
        }
        guard let inputs = object["inputs"]?.arrayValue else { throw .badRequest("the request needs an \"inputs\" array") }
        guard !inputs.isEmpty else { throw .badRequest("\"inputs\" is empty") }
        var names: Set<String> = []
        for input in inputs {
            let tensor = try decodeInput(input, binary: &body)
            guard names.insert(tensor.name).inserted else { throw .badRequest("input '\(tensor.name)' appears twice") }
            request.inputs.append(tensor)
        }
        guard body.readableBytes == 0 else {
            throw .badRequest("\(body.readableBytes) bytes of binary data follow the inputs that no input claims")
        }
        if let outputs = object["outputs"] {
            guard let list = outputs.arrayValue else { throw .badRequest("\"outputs\" must be an array") }
            for output in list {
                guard let member = output.objectValue, let name = member["name"]?.stringValue else {
                    throw .badRequest("each of \"outputs\" needs a \"name\"")
                }
                let binary = member["parameters"]?.objectValue?["binary_data"]?.boolValue
                request.outputs.append(RequestedOutput(name: name, binary: binary))
            }
        }
        return request
    }

    private static func decodeInput(_ value: JSONValue, binary: inout ByteBuffer) throws(APIError) -> HostTensor {
        guard let input = value.objectValue else { throw .badRequest("each input must be an object") }
        guard let name = input["name"]?.stringValue, !name.isEmpty else { throw .badRequest("an input has no \"name\"") }
        guard let typeName = input["datatype"]?.stringValue else {
            throw .badRequest("input '\(name)' has no \"datatype\"")
        }
        guard let dataType = DataType(name: typeName) else {
            throw .badRequest("input '\(name)' has unknown datatype \"\(typeName)\"")
        }
        guard let dims = input["shape"]?.arrayValue else { throw .badRequest("input '\(name)' has no \"shape\" array") }
        var shape: [Int64] = []
        for dim in dims {
            guard let size = dim.int64Value, size >= 0 else {
                throw .badRequest("input '\(name)': shape dimensions must be non-negative integers")
            }
            shape.append(size)
        }
        guard let count = Shape.elementCount(shape) else { throw .badRequest("input '\(name)': shape \(shape) is too large") }
        if let size = input["parameters"]?.objectValue?["binary_data_size"] {
            guard let byteCount = size.int64Value, byteCount >= 0, byteCount <= Int64(binary.readableBytes) else {
                throw .badRequest(
                    "input '\(name)': binary_data_size \(size.serializedText) exceeds the \(binary.readableBytes) bytes of binary data left")
            }
            guard let slice = binary.readSlice(length: Int(byteCount)),
                  let buffer = slice.withUnsafeReadableBytes({ TensorBuffer(copying: $0) })
            else { throw .badRequest("input '\(name)': binary data is not available") }
            let tensor = HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer)
            if let problem = tensor.consistencyProblem() { throw .badRequest(problem) }
            return tensor
        }
        guard let data = input["data"] else {
            throw .badRequest("input '\(name)' has neither \"data\" nor a binary_data_size parameter")
        }
        return try TensorJSON.decode(name: name, dataType: dataType, shape: shape, count: count, data: data)
    }
}

extension JSONValue {
    var serializedText: String { String(decoding: serialized, as: UTF8.self) }
}
