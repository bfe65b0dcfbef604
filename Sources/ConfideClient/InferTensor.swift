public import ConfideSDK
import ConfideTensors

/// A tensor of an inference call: an input the client sends or an output it receives. The data is little-endian
/// and row-major; a BYTES tensor's elements each carry a 4-byte little-endian length prefix.
public struct InferTensor: Sendable, Equatable {
    /// The tensor's name.
    public var name: String
    /// The element type.
    public var dataType: DataType
    /// The shape.
    public var shape: [Int64]
    /// The data.
    public var data: [UInt8]

    /// A tensor over `data` as it is.
    public init(name: String, dataType: DataType, shape: [Int64], data: [UInt8]) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.data = data
    }

    /// A tensor holding a copy of fixed-size elements, or `nil` when `T`'s size is not the data type's or the
    /// count is not the shape's.
    public init?<T: BitwiseCopyable>(name: String, dataType: DataType, shape: [Int64], values: [T]) {
        guard dataType.elementSize == MemoryLayout<T>.size, Shape.elementCount(shape) == values.count else {
            return nil
        }
        self.init(name: name, dataType: dataType, shape: shape, data: values.withUnsafeBytes { Array($0) })
    }

    /// A BYTES tensor whose elements are the UTF-8 of `strings` (shape `[count]` by default), or `nil` when the
    /// count is not the shape's or an element is too long for its length prefix.
    public init?(name: String, strings: [String], shape: [Int64]? = nil) {
        let shape = shape ?? [Int64(strings.count)]
        guard Shape.elementCount(shape) == strings.count,
            let data = try? BytesElements.encode(strings.map { Array($0.utf8) })
        else { return nil }
        self.init(name: name, dataType: .bytes, shape: shape, data: data)
    }

    /// The elements as `T`, or `nil` when `T`'s size is not the data type's or the data is not whole elements.
    public func values<T: BitwiseCopyable>(as type: T.Type) -> [T]? {
        let size = MemoryLayout<T>.size
        guard dataType.elementSize == size, size > 0, data.count % size == 0 else { return nil }
        return data.withUnsafeBytes { bytes in
            (0..<bytes.count / size).map { bytes.loadUnaligned(fromByteOffset: $0 * size, as: T.self) }
        }
    }

    /// The elements of a BYTES tensor as UTF-8 strings, or `nil` for another type or malformed data.
    public func strings() -> [String]? {
        guard dataType == .bytes else { return nil }
        return data.withUnsafeBytes { bytes in
            (try? BytesElements.decode(bytes))?.map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

extension InferTensor {
    /// A copy of a tensor the KServe codec decoded.
    init(_ tensor: HostTensor) {
        self.init(name: tensor.name, dataType: tensor.dataType, shape: tensor.shape, data: Array(tensor.buffer.bytes))
    }

    /// A copy for the KServe codec to encode, or `nil` when memory is not available.
    var hostTensor: HostTensor? {
        data.withUnsafeBytes { bytes in
            TensorBuffer(copying: bytes).map { HostTensor(name: name, dataType: dataType, shape: shape, buffer: $0) }
        }
    }
}
