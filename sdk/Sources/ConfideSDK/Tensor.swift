import CConfide

/// An input tensor of a request, as the host passed it. A view: valid only inside
/// ``HandlerInstance/execute(_:)``; copy what must outlive the call.
public struct Tensor {
    /// The tensor's name.
    public let name: String
    /// The element type.
    public let dataType: DataType
    /// The shape.
    public let shape: [Int64]
    /// The raw bytes, little-endian, row-major.
    public let bytes: UnsafeRawBufferPointer

    init(_ tensor: UnsafePointer<ConfideTensor>) throws(HandlerError) {
        let raw = tensor.pointee
        guard let dataType = DataType(rawValue: raw.datatype) else {
            throw .invalidArgument("input has unknown datatype \(raw.datatype)")
        }
        self.name = raw.name.map { String(cString: $0) } ?? ""
        self.dataType = dataType
        self.shape = (0..<Int(raw.rank)).map { raw.shape[$0] }
        self.bytes = UnsafeRawBufferPointer(start: raw.data, count: Int(raw.byte_size))
    }

    /// The number of elements.
    public var elementCount: Int { Shape.elementCount(shape) ?? 0 }

    /// The elements as a typed buffer view. Throws when `T` does not match ``dataType``'s size.
    public func elements<T: BitwiseCopyable>(as type: T.Type) throws(HandlerError) -> UnsafeBufferPointer<T> {
        guard dataType.elementSize == MemoryLayout<T>.size else {
            throw .invalidArgument("input '\(name)' is \(dataType), not \(T.self)")
        }
        return bytes.assumingMemoryBound(to: T.self)
    }

    /// The elements of a ``DataType/bytes`` tensor as byte views.
    public func byteElements() throws(HandlerError) -> [UnsafeRawBufferPointer] {
        guard dataType == .bytes else { throw .invalidArgument("input '\(name)' is \(dataType), not BYTES") }
        return try BytesElements.decode(bytes)
    }

    /// The elements of a ``DataType/bytes`` tensor decoded as UTF-8 (invalid sequences are repaired).
    public func strings() throws(HandlerError) -> [String] {
        try byteElements().map { String(decoding: $0, as: UTF8.self) }
    }
}
