import ConfideJSON
import ConfideSDK
public import ConfideTensors
public import NIOCore

/// A KServe v2 message body as written: JSON, or a JSON header followed by binary tensor data.
public struct KServeBody: Sendable {
    /// The bytes to send.
    public var body: ByteBuffer
    /// The length of the JSON header when binary data follows it (the `Inference-Header-Content-Length`
    /// header field); `nil` when the body is JSON only.
    public var jsonLength: Int?
}

/// The KServe Open Inference Protocol v2 codec, shared by the server and the client: JSON tensors and the
/// binary tensor extension (a JSON header of `Inference-Header-Content-Length` bytes, then raw data).
///
/// Decoding reads the JSON with a ``JSONScanner`` and converts each tensor's `data` straight into a
/// `TensorBuffer` of its datatype, after checking its element count against the values present; nothing
/// is allocated from a declared shape or size before that check. Its memory is the body plus the tensors it
/// returns (at most 4 times the body: one-digit FP64 values) plus a few hundred bytes per tensor.
public enum KServeCodec {
    /// The most bytes of tensors a decode returns per byte of body (one-digit FP64 values: 2 bytes of JSON, 8 of
    /// tensor), so that a server can reserve a request's memory before decoding it.
    public static let maximumExpansion = 4

    // MARK: Server

    /// Decodes an inference request. `headerLength` is the `Inference-Header-Content-Length` header field.
    public static func decodeRequest(
        body: ByteBuffer, headerLength: String?, limits: KServeLimits = KServeLimits()
    ) throws(KServeCodecError) -> InferRequest {
        let jsonLength = try jsonLength(headerLength, bodySize: body.readableBytes)
        let result = body.withUnsafeReadableBytes { bytes in
            Result { () throws(KServeCodecError) in try decodeRequest(bytes, jsonLength: jsonLength, limits: limits) }
        }
        return try result.get()
    }

    /// Encodes the response to `request`: the outputs it asked for (all when it named none), each as JSON
    /// data or binary data as it asked. Throws ``KServeCodecError/Code/unknownOutput`` for an output the
    /// model did not produce, and ``KServeCodecError/Code/limitExceeded`` for a response of 4 GiB or more.
    public static func encodeResponse(
        model: String, version: String, request: InferRequest, outputs: [HostTensor]
    ) throws(KServeCodecError) -> KServeBody {
        let selected = try select(model: model, request: request, outputs: outputs)
        let size = responseSize(model: model, version: version, id: request.id, selected: selected)
        guard size <= Int(UInt32.max) else {
            throw .limitExceeded("the response of model '\(model)' would be larger than 4 GiB")
        }
        var json = JSONOutput(buffer: ByteBufferAllocator().buffer(capacity: size))
        json.raw("{\"model_name\":")
        json.string(model)
        json.raw(",\"model_version\":")
        json.string(version)
        if let id = request.id {
            json.raw(",\"id\":")
            json.string(id)
        }
        json.raw(",\"outputs\":[")
        for (index, output) in selected.enumerated() {
            if index > 0 { json.raw(",") }
            json.tensor(output.tensor, binary: output.binary)
        }
        json.raw("]}")
        return finish(json, binary: selected.filter(\.binary).map(\.tensor))
    }

    /// The most bytes ``encodeResponse(model:version:request:outputs:)`` writes for these outputs: exact for
    /// binary data, an upper bound for JSON text.
    public static func responseSizeEstimate(
        model: String, version: String, request: InferRequest, outputs: [HostTensor]
    ) -> Int {
        let selected = (try? select(model: model, request: request, outputs: outputs)) ?? []
        return responseSize(model: model, version: version, id: request.id, selected: selected)
    }

    private static func responseSize(
        model: String, version: String, id: String?, selected: [(tensor: HostTensor, binary: Bool)]
    ) -> Int {
        var size = JSONSize.add(128, JSONSize.string(model.utf8.count))
        size = JSONSize.add(size, JSONSize.string(version.utf8.count))
        size = JSONSize.add(size, JSONSize.string(id?.utf8.count ?? 0))
        for (tensor, binary) in selected {
            size = JSONSize.add(size, JSONSize.tensor(tensor, binary: binary))
            if binary { size = JSONSize.add(size, tensor.buffer.count) }
        }
        return size
    }

    // MARK: Client

    /// Encodes an inference request for `inputs`, as JSON data or (with `binary`) as binary data that also
    /// asks for binary outputs. Integers are written exactly, FP16 and BF16 as numbers.
    public static func encodeRequest(
        inputs: [HostTensor], binary: Bool, id: String? = nil, outputs: [RequestedOutput] = []
    ) -> KServeBody {
        var size = JSONSize.add(128, JSONSize.string(id?.utf8.count ?? 0))
        for input in inputs {
            size = JSONSize.add(size, JSONSize.tensor(input, binary: binary))
            if binary { size = JSONSize.add(size, input.buffer.count) }
        }
        for output in outputs { size = JSONSize.add(size, JSONSize.add(64, JSONSize.string(output.name.utf8.count))) }
        var json = JSONOutput(buffer: ByteBufferAllocator().buffer(capacity: min(size, 1 << 30)))
        json.raw("{")
        if let id {
            json.raw("\"id\":")
            json.string(id)
            json.raw(",")
        }
        json.raw("\"inputs\":[")
        for (index, input) in inputs.enumerated() {
            if index > 0 { json.raw(",") }
            json.tensor(input, binary: binary)
        }
        json.raw("]")
        if !outputs.isEmpty {
            json.raw(",\"outputs\":[")
            for (index, output) in outputs.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw("{\"name\":")
                json.string(output.name)
                if let wantsBinary = output.binary {
                    json.raw(",\"parameters\":{\"binary_data\":")
                    json.bool(wantsBinary)
                    json.raw("}")
                }
                json.raw("}")
            }
            json.raw("]")
        }
        if binary { json.raw(",\"parameters\":{\"binary_data_output\":true}") }
        json.raw("}")
        return finish(json, binary: binary ? inputs : [])
    }

    /// Decodes the outputs of a successful inference response. `headerLength` is the
    /// `Inference-Header-Content-Length` header field.
    public static func decodeResponse(
        body: ByteBuffer, headerLength: String?, limits: KServeLimits = KServeLimits()
    ) throws(KServeCodecError) -> [HostTensor] {
        let jsonLength = try jsonLength(headerLength, bodySize: body.readableBytes)
        let result = body.withUnsafeReadableBytes { bytes in
            Result { () throws(KServeCodecError) in try decodeResponse(bytes, jsonLength: jsonLength, limits: limits) }
        }
        return try result.get()
    }

    // MARK: Shared

    private static func jsonLength(_ headerLength: String?, bodySize: Int) throws(KServeCodecError) -> Int {
        guard let headerLength else { return bodySize }
        guard let length = Int(headerLength), length >= 0, length <= bodySize else {
            throw .malformed(
                "Inference-Header-Content-Length \(headerLength.prefix(40)) is not a length within the body of "
                    + "\(bodySize) bytes")
        }
        return length
    }

    private static func finish(_ json: JSONOutput, binary: [HostTensor]) -> KServeBody {
        guard !binary.isEmpty else { return KServeBody(body: json.buffer, jsonLength: nil) }
        var body = json.buffer
        let jsonLength = body.readableBytes
        for tensor in binary { body.writeBytes(tensor.buffer.bytes) }
        return KServeBody(body: body, jsonLength: jsonLength)
    }

    private static func select(
        model: String, request: InferRequest, outputs: [HostTensor]
    ) throws(KServeCodecError) -> [(tensor: HostTensor, binary: Bool)] {
        guard !request.outputs.isEmpty else { return outputs.map { ($0, request.binaryOutputsByDefault) } }
        var selected: [(tensor: HostTensor, binary: Bool)] = []
        for wanted in request.outputs {
            guard let tensor = outputs.first(where: { $0.name == wanted.name }) else {
                throw .unknownOutput(
                    "model '\(model)' produced no output named '\(wanted.name)' "
                        + "(outputs: \(outputs.map(\.name).joined(separator: ", ")))")
            }
            selected.append((tensor, wanted.binary ?? request.binaryOutputsByDefault))
        }
        return selected
    }

    private static func decodeRequest(
        _ bytes: UnsafeRawBufferPointer, jsonLength: Int, limits: KServeLimits
    ) throws(KServeCodecError) -> InferRequest {
        let json = UnsafeRawBufferPointer(rebasing: bytes[0..<jsonLength]).assumingMemoryBound(to: UInt8.self)
        var reader = Reader(json, message: "request", limits: limits)
        var request = InferRequest(inputs: [])
        var headers: [TensorHeader]?
        var seen = KeySet()
        try reader.expect(.object, else: "the request must be a JSON object")
        try reader.openObject()
        while let key = try reader.nextKey() {
            switch key {
            case "id", "parameters", "inputs", "outputs": try seen.insert(key, in: "the request")
            default: break
            }
            switch key {
            case "id":
                try reader.expect(.string, else: "\"id\" must be a string")
                request.id = try reader.string(maximumLength: limits.maximumIDLength, "the request \"id\"")
            case "parameters":
                try readRequestParameters(&reader, into: &request)
            case "inputs":
                headers = try readTensors(&reader, role: "input", member: "inputs", limits: limits)
            case "outputs":
                request.outputs = try readRequestedOutputs(&reader, limits: limits)
            default:
                try reader.skip()
            }
        }
        try reader.expectEnd()
        guard let headers else { throw .malformed("the request needs an \"inputs\" array") }
        guard !headers.isEmpty else { throw .malformed("\"inputs\" is empty") }
        var binary = BinarySection(bytes: UnsafeRawBufferPointer(rebasing: bytes[jsonLength...]))
        var budget = limits.maximumElements
        var names: Set<String> = []
        for header in headers {
            let tensor = try header.tensor(role: "input", reader: &reader, binary: &binary, elementBudget: &budget)
            guard names.insert(tensor.name).inserted else { throw .malformed("input '\(tensor.name)' appears twice") }
            request.inputs.append(tensor)
        }
        guard binary.remaining == 0 else {
            throw .malformed("\(binary.remaining) bytes of binary data follow the inputs that no input claims")
        }
        return request
    }

    private static func readRequestParameters(
        _ reader: inout Reader, into request: inout InferRequest
    ) throws(KServeCodecError) {
        try reader.expect(.object, else: "\"parameters\" must be an object")
        try reader.openObject()
        while let key = try reader.nextKey() {
            let kind = try reader.kind()
            if key == "binary_data_output", kind == .bool {
                request.binaryOutputsByDefault = try reader.bool()
            } else if key == "timeout" {
                guard kind == .number, let microseconds = try reader.number().integer(as: Int64.self), microseconds > 0
                else { throw .malformed("the \"timeout\" parameter must be a positive number of microseconds") }
                request.timeout = .microseconds(microseconds)
            } else {
                try reader.skip()
            }
        }
    }

    private static func readTensors(
        _ reader: inout Reader, role: String, member: String, limits: KServeLimits
    ) throws(KServeCodecError) -> [TensorHeader] {
        try reader.expect(.array, else: "\"\(member)\" must be an array")
        try reader.openArray()
        var headers: [TensorHeader] = []
        while try reader.nextElement() {
            guard headers.count < limits.maximumTensors else {
                throw .limitExceeded("\"\(member)\" holds more than \(limits.maximumTensors) tensors")
            }
            headers.append(try TensorHeader.read(&reader, role: role, limits: limits))
        }
        return headers
    }

    private static func readRequestedOutputs(
        _ reader: inout Reader, limits: KServeLimits
    ) throws(KServeCodecError) -> [RequestedOutput] {
        try reader.expect(.array, else: "\"outputs\" must be an array")
        try reader.openArray()
        var outputs: [RequestedOutput] = []
        while try reader.nextElement() {
            guard outputs.count < limits.maximumRequestedOutputs else {
                throw .limitExceeded("\"outputs\" names more than \(limits.maximumRequestedOutputs) outputs")
            }
            try reader.expect(.object, else: "each of \"outputs\" needs a \"name\"")
            try reader.openObject()
            var output = RequestedOutput(name: "")
            var named = false
            while let key = try reader.nextKey() {
                let kind = try reader.kind()
                if key == "name", kind == .string {
                    output.name = try reader.string(maximumLength: limits.maximumNameLength, "an output name")
                    named = true
                } else if key == "parameters", kind == .object {
                    try reader.openObject()
                    while let parameter = try reader.nextKey() {
                        if parameter == "binary_data", try reader.kind() == .bool {
                            output.binary = try reader.bool()
                        } else {
                            try reader.skip()
                        }
                    }
                } else {
                    try reader.skip()
                }
            }
            guard named else { throw .malformed("each of \"outputs\" needs a \"name\"") }
            guard !output.name.utf8.contains(0) else { throw .malformed("an output name contains a NUL character") }
            outputs.append(output)
        }
        return outputs
    }

    private static func decodeResponse(
        _ bytes: UnsafeRawBufferPointer, jsonLength: Int, limits: KServeLimits
    ) throws(KServeCodecError) -> [HostTensor] {
        let json = UnsafeRawBufferPointer(rebasing: bytes[0..<jsonLength]).assumingMemoryBound(to: UInt8.self)
        var reader = Reader(json, message: "response", limits: limits)
        var headers: [TensorHeader]?
        try reader.expect(.object, else: "the response must be a JSON object")
        try reader.openObject()
        while let key = try reader.nextKey() {
            if key == "outputs" {
                guard headers == nil else { throw .malformed("the response has the key \"outputs\" twice") }
                headers = try readTensors(&reader, role: "output", member: "outputs", limits: limits)
            } else {
                try reader.skip()
            }
        }
        try reader.expectEnd()
        guard let headers else { throw .malformed("the response has no \"outputs\"") }
        var binary = BinarySection(bytes: UnsafeRawBufferPointer(rebasing: bytes[jsonLength...]))
        var budget = limits.maximumElements
        var outputs: [HostTensor] = []
        for header in headers {
            outputs.append(try header.tensor(role: "output", reader: &reader, binary: &binary, elementBudget: &budget))
        }
        return outputs
    }
}
