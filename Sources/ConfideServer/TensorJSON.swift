import ConfideHost
import ConfideJSON
import ConfideSDK
import NIOHTTP1

/// Converts tensor data between KServe's JSON form (a flat or nested array of values, row-major)
/// and the raw little-endian bytes handlers see.
enum TensorJSON {
    /// Decodes JSON `data` into a tensor of `count` elements, checking every value's type and range.
    static func decode(name: String, dataType: DataType, shape: [Int64], count: Int, data: JSONValue)
        throws(APIError) -> HostTensor
    {
        let values = flatten(data)
        guard values.count == count else {
            throw .badRequest("input '\(name)' has \(values.count) values but shape \(shape) needs \(count)")
        }
        if dataType == .bytes {
            var elements: [[UInt8]] = []
            elements.reserveCapacity(count)
            for value in values {
                guard let text = value.stringValue else { throw .badRequest("input '\(name)': BYTES values must be strings") }
                elements.append(Array(text.utf8))
            }
            guard let tensor = HostTensor(name: name, byteElements: elements, shape: shape) else {
                throw APIError(.insufficientStorage, "out of memory for input '\(name)'")
            }
            return tensor
        }
        guard let size = dataType.elementSize, let buffer = TensorBuffer(count: count * size) else {
            throw APIError(.insufficientStorage, "out of memory for input '\(name)'")
        }
        let out = buffer.mutableBytes
        for (index, value) in values.enumerated() {
            let offset = index * size
            func fail() -> APIError { .badRequest("input '\(name)': value \(value.serializedText) is not a valid \(dataType)") }
            switch dataType {
            case .bool:
                guard let flag = value.boolValue else { throw fail() }
                out[offset] = flag ? 1 : 0
            case .uint8: try store(value, as: UInt8.self, out, offset, fail)
            case .uint16: try store(value, as: UInt16.self, out, offset, fail)
            case .uint32: try store(value, as: UInt32.self, out, offset, fail)
            case .uint64: try store(value, as: UInt64.self, out, offset, fail)
            case .int8: try store(value, as: Int8.self, out, offset, fail)
            case .int16: try store(value, as: Int16.self, out, offset, fail)
            case .int32: try store(value, as: Int32.self, out, offset, fail)
            case .int64: try store(value, as: Int64.self, out, offset, fail)
            case .fp16:
                guard let number = value.doubleValue else { throw fail() }
                out.storeBytes(of: Float16(number).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
            case .bf16:
                guard let number = value.doubleValue else { throw fail() }
                out.storeBytes(of: BFloat16.bits(Float(number)).littleEndian, toByteOffset: offset, as: UInt16.self)
            case .fp32:
                guard let number = value.doubleValue else { throw fail() }
                out.storeBytes(of: Float(number).bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self)
            case .fp64:
                guard let number = value.doubleValue else { throw fail() }
                out.storeBytes(of: number.bitPattern.littleEndian, toByteOffset: offset, as: UInt64.self)
            case .bytes:
                throw fail()
            }
        }
        return HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer)
    }

    private static func store<T: FixedWidthInteger>(
        _ value: JSONValue, as type: T.Type, _ out: UnsafeMutableRawBufferPointer, _ offset: Int,
        _ fail: () -> APIError
    ) throws(APIError) {
        let number: T?
        switch value {
        case .integer(let integer): number = T(exactly: integer)
        case .double(let double): number = T(exactly: double)
        default: number = nil
        }
        guard let number else { throw fail() }
        out.storeBytes(of: number.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// The leaves of nested arrays, in row-major order.
    private static func flatten(_ data: JSONValue) -> [JSONValue] {
        guard case .array = data else { return [data] }
        var leaves: [JSONValue] = []
        var stack: [ArraySlice<JSONValue>] = [[data]]
        while var top = stack.popLast() {
            guard let value = top.popFirst() else { continue }
            stack.append(top)
            if case .array(let elements) = value {
                stack.append(elements[...])
            } else {
                leaves.append(value)
            }
        }
        return leaves
    }

    /// Writes a tensor's data as a flat JSON array.
    static func encode(_ tensor: HostTensor, into writer: inout JSONWriter) {
        let bytes = tensor.buffer.bytes
        writer.raw("[")
        func each<T: BitwiseCopyable>(_ type: T.Type, _ write: (T, inout JSONWriter) -> Void) {
            let count = bytes.count / MemoryLayout<T>.size
            for index in 0..<count {
                if index > 0 { writer.raw(",") }
                write(bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self), &writer)
            }
        }
        switch tensor.dataType {
        case .bool: each(UInt8.self) { $1.bool($0 != 0) }
        case .uint8: each(UInt8.self) { $1.integer($0) }
        case .uint16: each(UInt16.self) { $1.integer(UInt16(littleEndian: $0)) }
        case .uint32: each(UInt32.self) { $1.integer(UInt32(littleEndian: $0)) }
        case .uint64: each(UInt64.self) { $1.integer(UInt64(littleEndian: $0)) }
        case .int8: each(Int8.self) { $1.integer($0) }
        case .int16: each(Int16.self) { $1.integer(Int16(littleEndian: $0)) }
        case .int32: each(Int32.self) { $1.integer(Int32(littleEndian: $0)) }
        case .int64: each(Int64.self) { $1.integer(Int64(littleEndian: $0)) }
        case .fp16: each(UInt16.self) { $1.number(Float(Float16(bitPattern: UInt16(littleEndian: $0)))) }
        case .bf16: each(UInt16.self) { $1.number(BFloat16.float(UInt16(littleEndian: $0))) }
        case .fp32: each(UInt32.self) { $1.number(Float(bitPattern: UInt32(littleEndian: $0))) }
        case .fp64: each(UInt64.self) { $1.number(Double(bitPattern: UInt64(littleEndian: $0))) }
        case .bytes:
            for (index, element) in ((try? BytesElements.decode(bytes)) ?? []).enumerated() {
                if index > 0 { writer.raw(",") }
                writer.string(String(decoding: element, as: UTF8.self))
            }
        }
        writer.raw("]")
    }
}

/// Conversions between `Float` and bfloat16 bit patterns.
enum BFloat16 {
    /// Rounds to the nearest bfloat16, ties to even; NaN stays NaN.
    static func bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The `Float` a bfloat16 bit pattern stands for.
    static func float(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
