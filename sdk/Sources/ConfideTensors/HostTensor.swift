public import ConfideSDK

/// A named tensor held by the host: a request input or a handler output.
public struct HostTensor: Sendable {
    /// The tensor's name.
    public var name: String
    /// The element type.
    public var dataType: DataType
    /// The shape.
    public var shape: [Int64]
    /// The data, little-endian and row-major (BYTES: length-prefixed elements).
    public var buffer: TensorBuffer

    /// Creates a tensor over existing data.
    public init(name: String, dataType: DataType, shape: [Int64], buffer: TensorBuffer) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.buffer = buffer
    }

    /// Checks that the data matches the shape and type: the exact byte size for fixed-size types, the
    /// element count for BYTES. Returns a message for people, or `nil` when consistent.
    public func consistencyProblem() -> String? {
        guard let count = Shape.elementCount(shape) else {
            return "tensor '\(name)' has an invalid shape \(shape)"
        }
        if dataType == .bytes {
            guard let elements = BytesElements.count(buffer.bytes) else {
                return "tensor '\(name)' holds malformed BYTES data"
            }
            return elements == count
                ? nil : "tensor '\(name)' holds \(elements) BYTES elements but its shape \(shape) needs \(count)"
        }
        guard let expected = dataType.byteCount(forShape: shape) else {
            return "tensor '\(name)' has an invalid shape \(shape)"
        }
        return expected == buffer.count
            ? nil
            : "tensor '\(name)' holds \(buffer.count) bytes but shape \(shape) of \(dataType) needs \(expected)"
    }
}
