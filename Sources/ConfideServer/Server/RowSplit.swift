import ConfideHost
import ConfideRuntime
import ConfideSDK
import ConfideTensors

/// One request over many items (texts to embed, pairs to score), split along its rows into a part per worker of the
/// model, so that one request uses every worker as the same items sent one by one would; the parts' outputs are
/// joined again in order.
enum RowSplit {
    /// Submits `request`, whose every input holds `rows` rows along its first dimension, to `scheduler`: in as many
    /// parts as the model has workers (the request as it is for one worker, one row, or when `budget` cannot hold a
    /// copy of its inputs until the answer), answered once with the parts' outputs joined along their first
    /// dimension.
    static func submit(
        _ request: HostRequest, rows: Int, to scheduler: Scheduler, budget: MemoryBudget,
        deadline: ContinuousClock.Instant, completion: @escaping InferenceCompletion
    ) {
        let count = min(scheduler.workerCount, rows)
        guard count > 1 else {
            return scheduler.submit(request, deadline: deadline, completion: completion)
        }
        let copy = request.inputs.reduce(0) { $0 + $1.buffer.count }
        guard budget.tryReserve(copy) else {
            return scheduler.submit(request, deadline: deadline, completion: completion)
        }
        guard let parts = split(request, rows: rows, into: count) else {
            budget.release(copy)
            return scheduler.submit(request, deadline: deadline, completion: completion)
        }
        scheduler.submit(parts: parts, deadline: deadline) { result in
            budget.release(copy)
            completion(result.flatMap(join))
        }
    }

    /// The rows `0..<rows` in `count` near-equal consecutive ranges, the larger ones first.
    static func ranges(rows: Int, count: Int) -> [Range<Int>] {
        let (size, extra) = rows.quotientAndRemainder(dividingBy: count)
        var start = 0
        return (0..<count).map { index in
            let end = start + size + (index < extra ? 1 : 0)
            defer { start = end }
            return start..<end
        }
    }

    /// `request` in `count` parts of consecutive rows, or `nil` when an input does not hold `rows` rows or memory is
    /// spent.
    static func split(_ request: HostRequest, rows: Int, into count: Int) -> [HostRequest]? {
        let ranges = ranges(rows: rows, count: count)
        var inputs = Array(repeating: [HostTensor](), count: count)
        for tensor in request.inputs {
            guard let parts = split(tensor, rows: rows, ranges: ranges) else { return nil }
            for (index, part) in parts.enumerated() { inputs[index].append(part) }
        }
        return inputs.map { HostRequest(inputs: $0, requestedOutputs: request.requestedOutputs) }
    }

    private static func split(_ tensor: HostTensor, rows: Int, ranges: [Range<Int>]) -> [HostTensor]? {
        guard let first = tensor.shape.first, first == Int64(rows), tensor.consistencyProblem() == nil else {
            return nil
        }
        let trailing = Array(tensor.shape.dropFirst())
        if tensor.dataType == .bytes {
            guard let elements = tensor.byteElements(), elements.count % rows == 0 else { return nil }
            let perRow = elements.count / rows
            var parts: [HostTensor] = []
            for range in ranges {
                guard
                    let part = HostTensor(
                        name: tensor.name,
                        byteElements: Array(elements[(range.lowerBound * perRow)..<(range.upperBound * perRow)]),
                        shape: [Int64(range.count)] + trailing)
                else { return nil }
                parts.append(part)
            }
            return parts
        }
        let rowBytes = tensor.buffer.count / rows
        var parts: [HostTensor] = []
        for range in ranges {
            let bytes = UnsafeRawBufferPointer(
                rebasing: tensor.buffer.bytes[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)])
            guard let buffer = TensorBuffer(copying: bytes) else { return nil }
            parts.append(
                HostTensor(
                    name: tensor.name, dataType: tensor.dataType, shape: [Int64(range.count)] + trailing, buffer: buffer
                ))
        }
        return parts
    }

    /// The parts' responses as one: each output of the first part joined, along its first dimension, with the
    /// output of the same name in every other part.
    static func join(_ responses: [HostResponse]) -> Result<HostResponse, InferenceFailure> {
        guard let first = responses.first else { return .success(HostResponse()) }
        guard responses.count > 1 else { return .success(first) }
        var outputs: [HostTensor] = []
        for output in first.outputs {
            var pieces: [HostTensor] = []
            for response in responses {
                guard response.body == nil, let piece = response.outputs.first(where: { $0.name == output.name }),
                    piece.dataType == output.dataType, piece.shape.count >= 1,
                    piece.shape.dropFirst() == output.shape.dropFirst(), piece.consistencyProblem() == nil
                else {
                    return .failure(
                        .handler(
                            .internal(
                                "the parts of a split request answered with outputs '\(output.name)' that do not join "
                                    + "along their first dimension")))
                }
                pieces.append(piece)
            }
            guard let joined = join(pieces) else {
                return .failure(.handler(HandlerError(.unavailable, "the server's memory is spent; retry shortly")))
            }
            outputs.append(joined)
        }
        return .success(HostResponse(outputs: outputs))
    }

    /// Tensors of one name, type and trailing shape, one after the other.
    private static func join(_ pieces: [HostTensor]) -> HostTensor? {
        guard let first = pieces.first else { return nil }
        let bytes = pieces.reduce(0) { $0 + $1.buffer.count }
        let rows = pieces.reduce(Int64(0)) { $0 + ($1.shape.first ?? 0) }
        guard let buffer = TensorBuffer(count: bytes) else { return nil }
        var offset = 0
        for piece in pieces {
            UnsafeMutableRawBufferPointer(rebasing: buffer.mutableBytes[offset..<(offset + piece.buffer.count)])
                .copyMemory(from: piece.buffer.bytes)
            offset += piece.buffer.count
        }
        return HostTensor(
            name: first.name, dataType: first.dataType, shape: [rows] + first.shape.dropFirst(), buffer: buffer)
    }
}
