public import ConfideSDK
public import ConfideTensors

extension HostTensor {
    /// A tensor of `dataType` holding edge values of that type (extremes, subnormals, integers beyond 2^53, BYTES
    /// elements with escapes), or `nil` when memory is not available.
    public static func edgeValues(_ dataType: DataType, name: String = "t") -> HostTensor? {
        switch dataType {
        case .bool: HostTensor(name: name, dataType: dataType, shape: [3], values: [UInt8(1), 0, 1])
        case .uint8: HostTensor(name: name, dataType: dataType, shape: [2], values: [UInt8(0), .max])
        case .uint16: HostTensor(name: name, dataType: dataType, shape: [2], values: [UInt16(0), .max])
        case .uint32: HostTensor(name: name, dataType: dataType, shape: [2], values: [UInt32(7), .max])
        case .uint64: HostTensor(name: name, dataType: dataType, shape: [3], values: [UInt64(0), .max, (1 << 53) + 1])
        case .int8: HostTensor(name: name, dataType: dataType, shape: [2], values: [Int8.min, .max])
        case .int16: HostTensor(name: name, dataType: dataType, shape: [2], values: [Int16.min, .max])
        case .int32: HostTensor(name: name, dataType: dataType, shape: [2], values: [Int32.min, .max])
        case .int64: HostTensor(name: name, dataType: dataType, shape: [3], values: [Int64.min, .max, -(1 << 53) - 1])
        case .fp16: HostTensor(name: name, dataType: dataType, shape: [4], values: [Float16(0.5), -1.25, 65504, 0.1])
        case .bf16: HostTensor(name: name, dataType: dataType, shape: [3], values: [UInt16(0x3F80), 0xC040, 0x3DCD])
        case .fp32:
            HostTensor(
                name: name, dataType: dataType, shape: [2, 2],
                values: [Float(0.1), -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 3])
        case .fp64:
            HostTensor(
                name: name, dataType: dataType, shape: [4],
                values: [0.1, -Double.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e15 + 0.5])
        case .bytes: HostTensor(name: name, strings: ["", "héllo", "quote\" back\\ line\n\u{1}"], shape: [1, 3])
        }
    }
}
