import CConfide

/// The element type of a tensor, as it crosses the plugin ABI (values match Triton's data types).
public enum DataType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case bool = 1
    case uint8 = 2
    case uint16 = 3
    case uint32 = 4
    case uint64 = 5
    case int8 = 6
    case int16 = 7
    case int32 = 8
    case int64 = 9
    case fp16 = 10
    case fp32 = 11
    case fp64 = 12
    /// Variable-length byte strings: each element is a little-endian `UInt32` length and that many bytes.
    case bytes = 13
    case bf16 = 14

    /// The size of one element in bytes, or `nil` for ``bytes`` whose elements vary in size.
    public var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16, .fp16, .bf16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }

    /// The name used by the KServe Open Inference Protocol (`"FP32"`, `"BYTES"`, ...).
    public var name: String {
        switch self {
        case .bool: "BOOL"
        case .uint8: "UINT8"
        case .uint16: "UINT16"
        case .uint32: "UINT32"
        case .uint64: "UINT64"
        case .int8: "INT8"
        case .int16: "INT16"
        case .int32: "INT32"
        case .int64: "INT64"
        case .fp16: "FP16"
        case .fp32: "FP32"
        case .fp64: "FP64"
        case .bytes: "BYTES"
        case .bf16: "BF16"
        }
    }

    /// Looks a type up by its KServe name; `nil` for an unknown name.
    public init?(name: some StringProtocol) {
        guard let match = DataType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}

extension DataType {
    /// The byte size a tensor of this type and shape must have, or `nil` for ``bytes`` tensors or when
    /// the shape is invalid (a negative dimension) or its size overflows.
    public func byteCount(forShape shape: [Int64]) -> Int? {
        guard let elementSize, let count = Shape.elementCount(shape) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        return overflow ? nil : bytes
    }
}

/// Helpers for tensor shapes.
public enum Shape {
    /// The number of elements of a shape, or `nil` when a dimension is negative or the product overflows.
    public static func elementCount(_ shape: [Int64]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0, let dimension = Int(exactly: dimension) else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }
}
