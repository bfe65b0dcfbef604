import ConfideJSON
import ConfideSDK
import ConfideTensors
import NIOCore

/// Writes JSON text straight into a `ByteBuffer`, with the same text as `JSONWriter`.
struct JSONOutput {
    var buffer: ByteBuffer

    mutating func raw(_ text: StaticString) {
        buffer.writeStaticString(text)
    }

    mutating func bool(_ value: Bool) {
        value ? raw("true") : raw("false")
    }

    mutating func integer<T: BinaryInteger>(_ value: T) {
        var magnitude = UInt64(truncatingIfNeeded: value.magnitude)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                digits[start] = UInt8(ascii: "-")
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[start...]))
        }
    }

    /// A floating-point number as `JSONWriter.number` writes it: integral values below 1e15 as integers,
    /// others in their shortest exact form, NaN and infinities as `null`.
    mutating func number<T: BinaryFloatingPoint & LosslessStringConvertible>(_ value: T) {
        guard value.isFinite else { return raw("null") }
        if value == value.rounded(), abs(Double(value)) < 1e15 {
            integer(Int64(value))
        } else {
            buffer.writeString(value.description)
        }
    }

    /// A string value whose UTF-8 is `bytes` (invalid UTF-8 is replaced, as `String(decoding:)` does).
    mutating func string(_ bytes: UnsafeRawBufferPointer) {
        guard UTF8Validation.isValid(bytes) else { return string(String(decoding: bytes, as: UTF8.self)) }
        let size = JSONSize.escapedSize(validUTF8: bytes)
        guard size != bytes.count else {
            raw("\"")
            buffer.writeBytes(bytes)
            raw("\"")
            return
        }
        let hex: StaticString = "0123456789abcdef"
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: JSONSize.add(size, 2)) { out in
            var offset = 0
            func put(_ byte: UInt8) {
                guard offset < out.count else { return }
                out[offset] = byte
                offset += 1
            }
            put(UInt8(ascii: "\""))
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    put(UInt8(ascii: "\\"))
                    put(byte)
                case 0x0A:
                    put(UInt8(ascii: "\\"))
                    put(UInt8(ascii: "n"))
                case 0x0D:
                    put(UInt8(ascii: "\\"))
                    put(UInt8(ascii: "r"))
                case 0x09:
                    put(UInt8(ascii: "\\"))
                    put(UInt8(ascii: "t"))
                case 0..<0x20:
                    put(UInt8(ascii: "\\"))
                    put(UInt8(ascii: "u"))
                    put(UInt8(ascii: "0"))
                    put(UInt8(ascii: "0"))
                    put(hex.utf8Start[Int(byte >> 4)])
                    put(hex.utf8Start[Int(byte & 0xF)])
                default:
                    put(byte)
                }
            }
            put(UInt8(ascii: "\""))
            return offset
        }
    }

    /// A string value.
    mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { string(UnsafeRawBufferPointer($0)) }
    }

    /// A shape as an array of integers.
    mutating func shape(_ shape: [Int64]) {
        raw("[")
        for (index, dimension) in shape.enumerated() {
            if index > 0 { raw(",") }
            integer(dimension)
        }
        raw("]")
    }

    /// A tensor object: name, datatype, shape, and either its data as JSON or the size of its binary data.
    mutating func tensor(_ tensor: HostTensor, binary: Bool) {
        raw("{\"name\":")
        string(tensor.name)
        raw(",\"datatype\":")
        string(tensor.dataType.name)
        raw(",\"shape\":")
        shape(tensor.shape)
        if binary {
            raw(",\"parameters\":{\"binary_data_size\":")
            integer(tensor.buffer.count)
            raw("}")
        } else {
            raw(",\"data\":")
            data(tensor)
        }
        raw("}")
    }

    /// A tensor's data as a flat JSON array.
    mutating func data(_ tensor: HostTensor) {
        let bytes = tensor.buffer.bytes
        raw("[")
        func each<T: BitwiseCopyable>(_ type: T.Type, _ write: (T, inout JSONOutput) -> Void) {
            let count = bytes.count / MemoryLayout<T>.size
            for index in 0..<count {
                if index > 0 { raw(",") }
                write(bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self), &self)
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
        case .bf16: each(UInt16.self) { $1.number(Float(BFloat16(bitPattern: UInt16(littleEndian: $0)))) }
        case .fp32: each(UInt32.self) { $1.number(Float(bitPattern: UInt32(littleEndian: $0))) }
        case .fp64: each(UInt64.self) { $1.number(Double(bitPattern: UInt64(littleEndian: $0))) }
        case .bytes:
            for (index, element) in ((try? BytesElements.decode(bytes)) ?? []).enumerated() {
                if index > 0 { raw(",") }
                string(element)
            }
        }
        raw("]")
    }
}

/// Upper bounds on the size of JSON text, for reserving a buffer once.
enum JSONSize {
    /// The most bytes a tensor object takes (exact for the binary form's header).
    static func tensor(_ tensor: HostTensor, binary: Bool) -> Int {
        var size = 64
        size = add(size, string(tensor.name.utf8.count))
        size = add(size, 21 * (tensor.shape.count + 1))
        return add(size, binary ? 64 : data(tensor))
    }

    /// The most bytes a string of `count` bytes of UTF-8 takes, quoted and escaped.
    static func string(_ count: Int) -> Int {
        let (escaped, overflow) = count.multipliedReportingOverflow(by: 6)
        return overflow ? Int.max : add(escaped, 2)
    }

    /// The most bytes a tensor's data takes as a JSON array.
    static func data(_ tensor: HostTensor) -> Int {
        let count = tensor.buffer.count
        let perElement: Int
        switch tensor.dataType {
        case .bool: perElement = 6
        case .uint8, .int8: perElement = 5
        case .uint16, .int16: perElement = 4
        case .uint32, .int32: perElement = 3
        case .uint64, .int64: perElement = 3
        case .fp16: perElement = 8
        case .bf16: perElement = 9
        case .fp32: perElement = 5
        case .fp64: perElement = 4
        case .bytes:
            guard let elements = try? BytesElements.decode(tensor.buffer.bytes) else { return 2 }
            return elements.reduce(2) { add($0, add(escapedSize($1), 3)) }
        }
        let (size, overflow) = count.multipliedReportingOverflow(by: perElement)
        return overflow ? Int.max : add(size, 2)
    }

    /// The exact bytes a string takes inside quotes (at most 6 per byte; for invalid UTF-8 an upper bound).
    private static func escapedSize(_ bytes: UnsafeRawBufferPointer) -> Int {
        UTF8Validation.isValid(bytes) ? escapedSize(validUTF8: bytes) : string(bytes.count)
    }

    /// The exact bytes a string of valid UTF-8 takes inside quotes.
    static func escapedSize(validUTF8 bytes: UnsafeRawBufferPointer) -> Int {
        var size = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09: size += 2
            case 0..<0x20: size += 6
            default: size += 1
            }
        }
        return size
    }

    /// `a + b`, or `Int.max` when it overflows.
    static func add(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }
}
