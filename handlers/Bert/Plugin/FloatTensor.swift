import BertModel
import ConfideSDK

/// FP32 values the encoder reads: the mapped file's own bytes when the tensor is aligned F32, else a converted
/// copy (F16, BF16, or tensors joined together), 64-byte aligned.
final class FloatTensor: @unchecked Sendable {
    /// The values, valid as long as this object lives.
    let values: UnsafeBufferPointer<Float>
    private let view: TensorView?
    private let owned: UnsafeMutableBufferPointer<Float>?

    /// The values of one tensor.
    init(_ tensor: TensorView) throws(HandlerError) {
        if let floats = tensor.float32 {
            values = floats
            view = tensor
            owned = nil
        } else {
            guard let floats = tensor.floats() else {
                throw .invalidArgument("\(tensor.name): \(tensor.dtype) is not a floating-point type")
            }
            let buffer = Self.allocate(floats.count)
            _ = buffer.initialize(from: floats)
            values = UnsafeBufferPointer(buffer)
            view = nil
            owned = buffer
        }
    }

    /// The values of `tensors` one after the other (e.g. the query, key and value weights as one matrix).
    init(concatenating tensors: [TensorView]) throws(HandlerError) {
        let buffer = Self.allocate(tensors.reduce(0) { $0 + $1.elementCount })
        var offset = 0
        for tensor in tensors {
            guard let floats = tensor.float32.map(Array.init) ?? tensor.floats() else {
                buffer.deallocate()
                throw .invalidArgument("\(tensor.name): \(tensor.dtype) is not a floating-point type")
            }
            _ = UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + floats.count)]).initialize(from: floats)
            offset += floats.count
        }
        values = UnsafeBufferPointer(buffer)
        view = nil
        owned = buffer
    }

    /// A copy of `values`.
    convenience init(copying values: UnsafeBufferPointer<Float>) {
        var iterator = values.makeIterator()
        self.init(count: values.count) { iterator.next() ?? 0 }
    }

    /// `count` values made by `generate`, in order.
    init(count: Int, _ generate: () -> Float) {
        let buffer = Self.allocate(count)
        for index in 0..<count { buffer.initializeElement(at: index, to: generate()) }
        values = UnsafeBufferPointer(buffer)
        view = nil
        owned = buffer
    }

    deinit { owned?.deallocate() }

    /// Calls `body` with the values, keeping them alive until it returns (a copy's memory is freed with the
    /// object, which Swift may release right after its last use).
    func withValues<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(self) {} }
        return try body(values)
    }

    private static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: max(count, 1)), count: count)
    }
}
