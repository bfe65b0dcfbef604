public import ConfideSDK

extension HostTensor {
    /// Creates a tensor holding a copy of fixed-size elements. Returns `nil` when `T` does not match
    /// `dataType`, the count does not match the shape, or memory is not available.
    public init?<T: BitwiseCopyable>(name: String, dataType: DataType, shape: [Int64], values: [T]) {
        guard dataType.elementSize == MemoryLayout<T>.size, Shape.elementCount(shape) == values.count,
            let buffer = values.withUnsafeBytes({ TensorBuffer(copying: $0) })
        else { return nil }
        self.init(name: name, dataType: dataType, shape: shape, buffer: buffer)
    }

    /// Creates a BYTES tensor whose elements are the UTF-8 of `strings` (shape `[count]` by default).
    public init?(name: String, strings: [String], shape: [Int64]? = nil) {
        self.init(name: name, byteElements: strings.map { Array($0.utf8) }, shape: shape)
    }

    /// Creates a BYTES tensor from raw elements (shape `[count]` by default).
    public init?(name: String, byteElements: [[UInt8]], shape: [Int64]? = nil) {
        let shape = shape ?? [Int64(byteElements.count)]
        guard Shape.elementCount(shape) == byteElements.count,
            let encoded = try? BytesElements.encode(byteElements), let buffer = TensorBuffer(copying: encoded)
        else { return nil }
        self.init(name: name, dataType: .bytes, shape: shape, buffer: buffer)
    }

    /// The elements as `T`, or `nil` when `T`'s size does not match the data type.
    public func values<T: BitwiseCopyable>(as type: T.Type) -> [T]? {
        guard dataType.elementSize == MemoryLayout<T>.size else { return nil }
        return Array(buffer.bytes.assumingMemoryBound(to: T.self))
    }

    /// The elements of a BYTES tensor, or `nil` for another type or malformed data.
    public func byteElements() -> [[UInt8]]? {
        guard dataType == .bytes, let elements = try? BytesElements.decode(buffer.bytes) else { return nil }
        return elements.map { Array($0) }
    }

    /// The elements of a BYTES tensor as UTF-8 strings, or `nil` for another type or malformed data.
    public func strings() -> [String]? {
        byteElements()?.map { String(decoding: $0, as: UTF8.self) }
    }
}
