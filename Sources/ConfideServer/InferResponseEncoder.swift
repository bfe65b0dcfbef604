import ConfideHost
import ConfideJSON
import ConfideSDK
import NIOCore
import NIOHTTP1

/// Encodes KServe v2 inference responses: outputs as JSON data, or as binary data after the JSON
/// header (binary tensor extension) when the request asked for it.
enum InferResponseEncoder {
    static func encode(model: String, version: String, request: InferRequest, outputs: [HostTensor])
        throws(APIError) -> ServerResponse
    {
        var selected: [(tensor: HostTensor, binary: Bool)] = []
        if request.outputs.isEmpty {
            selected = outputs.map { ($0, request.binaryOutputsByDefault) }
        } else {
            for wanted in request.outputs {
                guard let tensor = outputs.first(where: { $0.name == wanted.name }) else {
                    throw .badRequest(
                        "model '\(model)' produced no output named '\(wanted.name)' (outputs: \(outputs.map(\.name).joined(separator: ", ")))")
                }
                selected.append((tensor, wanted.binary ?? request.binaryOutputsByDefault))
            }
        }
        var writer = JSONWriter(capacity: 256 + selected.reduce(0) { $0 + ($1.binary ? 0 : $1.tensor.buffer.count * 3) })
        writer.raw("{\"model_name\":")
        writer.string(model)
        writer.raw(",\"model_version\":")
        writer.string(version)
        if let id = request.id {
            writer.raw(",\"id\":")
            writer.string(id)
        }
        writer.raw(",\"outputs\":[")
        var binarySize = 0
        for (index, output) in selected.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw("{\"name\":")
            writer.string(output.tensor.name)
            writer.raw(",\"datatype\":")
            writer.string(output.tensor.dataType.name)
            writer.raw(",\"shape\":[")
            for (dimIndex, dim) in output.tensor.shape.enumerated() {
                if dimIndex > 0 { writer.raw(",") }
                writer.integer(dim)
            }
            writer.raw("]")
            if output.binary {
                writer.raw(",\"parameters\":{\"binary_data_size\":")
                writer.integer(output.tensor.buffer.count)
                writer.raw("}")
                binarySize += output.tensor.buffer.count
            } else {
                writer.raw(",\"data\":")
                TensorJSON.encode(output.tensor, into: &writer)
            }
            writer.raw("}")
        }
        writer.raw("]}")
        guard binarySize > 0 else { return .json(.ok, writer.bytes) }
        var body = ByteBuffer()
        body.reserveCapacity(writer.bytes.count + binarySize)
        body.writeBytes(writer.bytes)
        for output in selected where output.binary { body.writeBytes(output.tensor.buffer.bytes) }
        return ServerResponse(
            status: .ok,
            headers: [
                "Content-Type": "application/octet-stream",
                "Inference-Header-Content-Length": String(writer.bytes.count),
            ],
            body: body)
    }
}
