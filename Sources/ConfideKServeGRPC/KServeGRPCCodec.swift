public import ConfideKServe
import ConfideSDK
public import ConfideTensors
import Foundation

/// Conversions between the KServe v2 gRPC messages and host tensors, shared by the server and the client.
///
/// Decoding checks every input against ``KServeLimits`` (tensors, names, rank, elements) and its data against its
/// shape and datatype, typed `contents` and `raw_input_contents` (BYTES: each element a 4-byte little-endian length
/// and its bytes) alike, with overflow-checked arithmetic, before it allocates anything. Responses carry their
/// data in `raw_output_contents`, as Triton answers and `tritonclient` reads by default.
public enum KServeGRPCCodec {
    // MARK: Server

    /// Decodes an inference request. `admit` is called once, after every check and before any tensor is allocated,
    /// with the bytes the tensors will take; when it returns false the request is refused with
    /// ``KServeCodecError/Code/outOfMemory``.
    public static func decodeRequest(
        _ message: Inference_ModelInferRequest, limits: KServeLimits = KServeLimits(),
        admit: (Int) -> Bool = { _ in true }
    ) throws(KServeCodecError) -> InferRequest {
        guard message.id.utf8.count <= limits.maximumIDLength else {
            throw .limitExceeded("the request id is longer than \(limits.maximumIDLength) bytes")
        }
        guard message.inputs.count <= limits.maximumTensors else {
            throw .limitExceeded(
                "the request has \(message.inputs.count) inputs; the limit is \(limits.maximumTensors)")
        }
        guard message.outputs.count <= limits.maximumRequestedOutputs else {
            throw .limitExceeded(
                "the request asks for \(message.outputs.count) outputs; the limit is \(limits.maximumRequestedOutputs)")
        }
        let raw = message.rawInputContents
        if !raw.isEmpty {
            guard raw.count == message.inputs.count else {
                throw .malformed(
                    "raw_input_contents holds \(raw.count) entries but the request has \(message.inputs.count) inputs")
            }
            if let typed = message.inputs.first(where: \.hasContents) {
                throw .malformed(
                    "input '\(printable(typed.name))' has contents, but the request uses raw_input_contents")
            }
        }
        var plans: [TensorPlan] = []
        var elementBudget = limits.maximumElements
        var total = 0
        for (index, input) in message.inputs.enumerated() {
            let plan = try TensorPlan(
                role: "input", name: input.name, datatype: input.datatype, shape: input.shape,
                raw: raw.isEmpty ? nil : raw[index], contents: input.hasContents ? input.contents : nil,
                limits: limits, elementBudget: &elementBudget)
            let (sum, overflow) = total.addingReportingOverflow(plan.byteCount)
            guard !overflow else { throw .limitExceeded("the request's tensors are too large") }
            total = sum
            plans.append(plan)
        }
        var outputs: [RequestedOutput] = []
        for output in message.outputs {
            guard !output.name.isEmpty else { throw .malformed("a requested output has no name") }
            guard output.name.utf8.count <= limits.maximumNameLength else {
                throw .limitExceeded("a requested output's name is longer than \(limits.maximumNameLength) bytes")
            }
            outputs.append(RequestedOutput(name: output.name))
        }
        let timeout = try timeout(message.parameters["timeout"])
        guard admit(total) else {
            throw .outOfMemory("the server's memory budget cannot hold the request's \(total) bytes of tensors now")
        }
        var inputs: [HostTensor] = []
        for plan in plans { inputs.append(try plan.tensor()) }
        return InferRequest(
            id: message.id.isEmpty ? nil : message.id, inputs: inputs, outputs: outputs, timeout: timeout)
    }

    /// The response to `request`: the outputs it asked for (all when it named none), in order, each with its data in
    /// `raw_output_contents`. Throws ``KServeCodecError/Code/unknownOutput`` for an output the model did not
    /// produce, and ``KServeCodecError/Code/limitExceeded`` for a response of 2 GiB or more, which protobuf cannot
    /// carry.
    public static func encodeResponse(
        model: String, version: String, request: InferRequest, outputs: [HostTensor]
    ) throws(KServeCodecError) -> Inference_ModelInferResponse {
        let selected = try select(model: model, request: request, outputs: outputs)
        guard responseSize(selected) < Int(Int32.max) else {
            throw .limitExceeded("the response of model '\(model)' would be larger than 2 GiB")
        }
        var response = Inference_ModelInferResponse()
        response.modelName = model
        response.modelVersion = version
        response.id = request.id ?? ""
        response.outputs = selected.map { tensor in
            var output = Inference_ModelInferResponse.InferOutputTensor()
            output.name = tensor.name
            output.datatype = tensor.dataType.name
            output.shape = tensor.shape
            return output
        }
        response.rawOutputContents = selected.map { Data($0.buffer.bytes) }
        return response
    }

    /// The bytes of tensor data a response to `request` holds: what a server sets aside while it makes one.
    public static func responseSize(request: InferRequest, outputs: [HostTensor]) -> Int {
        responseSize((try? select(model: "", request: request, outputs: outputs)) ?? [])
    }

    private static func responseSize(_ tensors: [HostTensor]) -> Int {
        var size = 0
        for tensor in tensors {
            let (sum, overflow) = size.addingReportingOverflow(tensor.buffer.count)
            size = overflow ? .max : sum
        }
        return size
    }

    private static func select(
        model: String, request: InferRequest, outputs: [HostTensor]
    ) throws(KServeCodecError) -> [HostTensor] {
        guard !request.outputs.isEmpty else { return outputs }
        var selected: [HostTensor] = []
        for wanted in request.outputs {
            guard let tensor = outputs.first(where: { $0.name == wanted.name }) else {
                throw .unknownOutput(
                    "model '\(model)' produced no output named '\(printable(wanted.name))' "
                        + "(outputs: \(outputs.map(\.name).joined(separator: ", ")))")
            }
            selected.append(tensor)
        }
        return selected
    }

    /// The request's `timeout` parameter: microseconds, as an `int64_param` (what `tritonclient` sends) or a
    /// `uint64_param`.
    private static func timeout(_ parameter: Inference_InferParameter?) throws(KServeCodecError) -> Duration? {
        guard let parameter else { return nil }
        switch parameter.parameterChoice {
        case .int64Param(let microseconds) where microseconds >= 0: return .microseconds(microseconds)
        case .uint64Param(let microseconds): return .microseconds(Int64(exactly: microseconds) ?? .max)
        default: throw .malformed("the \"timeout\" parameter must be a non-negative integer of microseconds")
        }
    }

    // MARK: Client

    /// An inference request for `inputs`: their data in `raw_input_contents` with `raw`, or as typed `contents`
    /// (FP16 and BF16, which have no typed field, always raw).
    public static func encodeRequest(
        model: String, version: String? = nil, id: String? = nil, inputs: [HostTensor], outputs: [String] = [],
        raw: Bool = true
    ) -> Inference_ModelInferRequest {
        var request = Inference_ModelInferRequest()
        request.modelName = model
        request.modelVersion = version ?? ""
        request.id = id ?? ""
        let useRaw = raw || inputs.contains { $0.dataType == .fp16 || $0.dataType == .bf16 }
        request.inputs = inputs.map { tensor in
            var input = Inference_ModelInferRequest.InferInputTensor()
            input.name = tensor.name
            input.datatype = tensor.dataType.name
            input.shape = tensor.shape
            if !useRaw { input.contents = contents(tensor) }
            return input
        }
        if useRaw { request.rawInputContents = inputs.map { Data($0.buffer.bytes) } }
        request.outputs = outputs.map { name in
            var output = Inference_ModelInferRequest.InferRequestedOutputTensor()
            output.name = name
            return output
        }
        return request
    }

    /// The output tensors of a response, from `raw_output_contents` or typed `contents`, checked as a server checks
    /// inputs.
    public static func decodeOutputs(
        _ response: Inference_ModelInferResponse, limits: KServeLimits = KServeLimits()
    ) throws(KServeCodecError) -> [HostTensor] {
        let raw = response.rawOutputContents
        guard raw.isEmpty || raw.count == response.outputs.count else {
            throw .malformed(
                "raw_output_contents holds \(raw.count) entries but the response has \(response.outputs.count) outputs")
        }
        guard response.outputs.count <= limits.maximumTensors else {
            throw .limitExceeded("the response has more than \(limits.maximumTensors) outputs")
        }
        var elementBudget = limits.maximumElements
        var tensors: [HostTensor] = []
        for (index, output) in response.outputs.enumerated() {
            let plan = try TensorPlan(
                role: "output", name: output.name, datatype: output.datatype, shape: output.shape,
                raw: raw.isEmpty ? nil : raw[index], contents: output.hasContents ? output.contents : nil,
                limits: limits, elementBudget: &elementBudget)
            tensors.append(try plan.tensor())
        }
        return tensors
    }

    /// A tensor's data as typed contents.
    private static func contents(_ tensor: HostTensor) -> Inference_InferTensorContents {
        var contents = Inference_InferTensorContents()
        switch tensor.dataType {
        case .bool: contents.boolContents = (tensor.values(as: UInt8.self) ?? []).map { $0 != 0 }
        case .int8: contents.intContents = (tensor.values(as: Int8.self) ?? []).map(Int32.init)
        case .int16: contents.intContents = (tensor.values(as: Int16.self) ?? []).map(Int32.init)
        case .int32: contents.intContents = tensor.values(as: Int32.self) ?? []
        case .int64: contents.int64Contents = tensor.values(as: Int64.self) ?? []
        case .uint8: contents.uintContents = (tensor.values(as: UInt8.self) ?? []).map(UInt32.init)
        case .uint16: contents.uintContents = (tensor.values(as: UInt16.self) ?? []).map(UInt32.init)
        case .uint32: contents.uintContents = tensor.values(as: UInt32.self) ?? []
        case .uint64: contents.uint64Contents = tensor.values(as: UInt64.self) ?? []
        case .fp32: contents.fp32Contents = tensor.values(as: Float.self) ?? []
        case .fp64: contents.fp64Contents = tensor.values(as: Double.self) ?? []
        case .bytes: contents.bytesContents = (tensor.byteElements() ?? []).map { Data($0) }
        case .fp16, .bf16: break
        }
        return contents
    }

    /// A name as it can be shown in a message: at most 200 characters, control characters escaped.
    static func printable(_ text: String) -> String {
        let shortened = text.count > 200 ? text.prefix(200) + "..." : Substring(text)
        return shortened.unicodeScalars.map {
            $0.properties.generalCategory == .control ? "\\u{\(String($0.value, radix: 16))}" : String($0)
        }.joined()
    }
}

/// One tensor of a message, checked and sized but not yet allocated.
private struct TensorPlan {
    let name: String
    let role: String
    let dataType: DataType
    let shape: [Int64]
    let count: Int
    let source: Source
    /// The bytes the tensor takes once converted.
    let byteCount: Int

    enum Source {
        case raw(Data)
        case contents(Inference_InferTensorContents)
    }

    init(
        role: String, name: String, datatype: String, shape: [Int64], raw: Data?,
        contents: Inference_InferTensorContents?, limits: KServeLimits, elementBudget: inout Int
    ) throws(KServeCodecError) {
        guard !name.isEmpty else { throw .malformed("an \(role) has no name") }
        guard name.utf8.count <= limits.maximumNameLength else {
            throw .limitExceeded("an \(role)'s name is longer than \(limits.maximumNameLength) bytes")
        }
        let shown = KServeGRPCCodec.printable(name)
        guard let dataType = DataType(name: datatype) else {
            throw .malformed("\(role) '\(shown)' has unknown datatype \"\(KServeGRPCCodec.printable(datatype))\"")
        }
        guard shape.count <= limits.maximumRank else {
            throw .limitExceeded("\(role) '\(shown)' has \(shape.count) dimensions; the limit is \(limits.maximumRank)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .malformed("\(role) '\(shown)': shape dimensions must be non-negative")
        }
        guard let count = Shape.elementCount(shape) else {
            throw .malformed("\(role) '\(shown)': shape \(shape) is too large")
        }
        guard count <= elementBudget else {
            throw .limitExceeded("the message holds more than the limit of \(limits.maximumElements) tensor elements")
        }
        elementBudget -= count
        self.role = role
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.count = count
        if let raw {
            self.source = .raw(raw)
            self.byteCount = try Self.checkRaw(
                raw, role: role, name: shown, dataType: dataType, shape: shape, count: count)
        } else if let contents {
            self.source = .contents(contents)
            self.byteCount = try Self.checkContents(contents, role: role, name: shown, dataType: dataType, count: count)
        } else {
            throw .malformed("\(role) '\(shown)' has neither contents nor raw data")
        }
    }

    private static func checkRaw(
        _ raw: Data, role: String, name: String, dataType: DataType, shape: [Int64], count: Int
    ) throws(KServeCodecError) -> Int {
        if dataType == .bytes {
            let elements = raw.withUnsafeBytes { BytesElements.count($0) }
            guard let elements else {
                throw .malformed(
                    "\(role) '\(name)' holds malformed BYTES data: each element needs a 4-byte little-endian length "
                        + "and that many bytes")
            }
            guard elements == count else {
                throw .malformed(
                    "\(role) '\(name)' holds \(elements) BYTES elements but its shape \(shape) needs \(count)")
            }
            return raw.count
        }
        let expected = dataType.byteCount(forShape: shape)
        guard expected == raw.count else {
            let needed = expected.map { String($0) } ?? "more than can be addressed"
            throw .malformed(
                "\(role) '\(name)' holds \(raw.count) bytes but shape \(shape) of \(dataType) needs \(needed)")
        }
        return raw.count
    }

    private static func checkContents(
        _ contents: Inference_InferTensorContents, role: String, name: String, dataType: DataType, count: Int
    ) throws(KServeCodecError) -> Int {
        let present: Int
        switch dataType {
        case .bool: present = contents.boolContents.count
        case .int8, .int16, .int32: present = contents.intContents.count
        case .int64: present = contents.int64Contents.count
        case .uint8, .uint16, .uint32: present = contents.uintContents.count
        case .uint64: present = contents.uint64Contents.count
        case .fp32: present = contents.fp32Contents.count
        case .fp64: present = contents.fp64Contents.count
        case .bytes: present = contents.bytesContents.count
        case .fp16, .bf16: throw .malformed("\(role) '\(name)' of \(dataType) must use raw contents")
        }
        guard present == count else {
            throw .malformed("\(role) '\(name)' has \(present) values but its shape needs \(count)")
        }
        guard let elementSize = dataType.elementSize else {
            var size = 0
            for element in contents.bytesContents {
                guard UInt32(exactly: element.count) != nil else {
                    throw .limitExceeded("\(role) '\(name)' has a BYTES element of 4 GiB or more")
                }
                let (withPrefix, overflowPrefix) = element.count.addingReportingOverflow(4)
                let (sum, overflow) = size.addingReportingOverflow(withPrefix)
                guard !overflowPrefix, !overflow else { throw .limitExceeded("\(role) '\(name)' is too large") }
                size = sum
            }
            return size
        }
        let (size, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw .limitExceeded("\(role) '\(name)' is too large") }
        return size
    }

    /// Allocates and fills the tensor.
    func tensor() throws(KServeCodecError) -> HostTensor {
        guard let buffer = TensorBuffer(count: byteCount) else {
            throw .outOfMemory("out of memory for \(role) '\(KServeGRPCCodec.printable(name))'")
        }
        let out = buffer.mutableBytes
        switch source {
        case .raw(let data):
            data.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress, !bytes.isEmpty {
                    out.copyMemory(from: UnsafeRawBufferPointer(start: source, count: bytes.count))
                }
            }
        case .contents(let contents):
            try fill(out, from: contents)
        }
        return HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer)
    }

    private func fill(_ out: UnsafeMutableRawBufferPointer, from contents: Inference_InferTensorContents)
        throws(KServeCodecError)
    {
        func store<Value, Stored: BitwiseCopyable>(
            _ values: [Value], as type: Stored.Type, _ convert: (Value) -> Stored?
        ) throws(KServeCodecError) {
            for (index, value) in values.enumerated() {
                guard let stored = convert(value) else {
                    throw .malformed(
                        "\(role) '\(KServeGRPCCodec.printable(name))': value \(value) is out of range for \(dataType)")
                }
                out.storeBytes(of: stored, toByteOffset: index * MemoryLayout<Stored>.size, as: Stored.self)
            }
        }
        switch dataType {
        case .bool: try store(contents.boolContents, as: UInt8.self) { $0 ? 1 : 0 }
        case .int8: try store(contents.intContents, as: Int8.self) { Int8(exactly: $0) }
        case .int16: try store(contents.intContents, as: Int16.self) { Int16(exactly: $0)?.littleEndian }
        case .int32: try store(contents.intContents, as: Int32.self) { $0.littleEndian }
        case .int64: try store(contents.int64Contents, as: Int64.self) { $0.littleEndian }
        case .uint8: try store(contents.uintContents, as: UInt8.self) { UInt8(exactly: $0) }
        case .uint16: try store(contents.uintContents, as: UInt16.self) { UInt16(exactly: $0)?.littleEndian }
        case .uint32: try store(contents.uintContents, as: UInt32.self) { $0.littleEndian }
        case .uint64: try store(contents.uint64Contents, as: UInt64.self) { $0.littleEndian }
        case .fp32: try store(contents.fp32Contents, as: UInt32.self) { $0.bitPattern.littleEndian }
        case .fp64: try store(contents.fp64Contents, as: UInt64.self) { $0.bitPattern.littleEndian }
        case .bytes:
            do throws(HandlerError) {
                try BytesElements.encode(contents.bytesContents, into: out)
            } catch {
                throw .malformed("\(role) '\(KServeGRPCCodec.printable(name))': \(error.message)")
            }
        case .fp16, .bf16:
            throw .malformed("\(role) '\(KServeGRPCCodec.printable(name))' of \(dataType) must use raw contents")
        }
    }
}
