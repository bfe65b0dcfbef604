import ConfideJSON
import ConfideSDK
import ConfideTensors

/// The binary section of a message (after its JSON header) and how much of it the tensors read so far took.
struct BinarySection {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var remaining: Int { bytes.count - offset }

    /// Takes the next `count` bytes, or `nil` when fewer are left.
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}

extension TensorHeader {
    /// Builds the tensor: checks every member, the element count against the values present and the
    /// element budget, then allocates and converts. `reader` reads the message's JSON; `binary` is its binary
    /// section; `elementBudget` is what is left of ``KServeLimits/maximumElements``.
    func tensor(
        role: String, reader: inout Reader, binary: inout BinarySection, elementBudget: inout Int
    ) throws(KServeCodecError) -> HostTensor {
        guard let name, !name.isEmpty else { throw .malformed("an \(role) has no \"name\"") }
        guard let typeName else { throw .malformed("\(role) '\(name)' has no \"datatype\"") }
        guard let dataType = DataType(name: typeName) else {
            throw .malformed("\(role) '\(name)' has unknown datatype \"\(typeName)\"")
        }
        guard let shape else { throw .malformed("\(role) '\(name)' has no \"shape\" array") }
        guard shapeIsValid else {
            throw .malformed("\(role) '\(name)': shape dimensions must be non-negative integers")
        }
        guard let count = Shape.elementCount(shape) else {
            throw .malformed("\(role) '\(name)': shape \(shape) is too large")
        }
        if let binaryDataSize {
            return try binaryTensor(
                role: role, name: name, dataType: dataType, shape: shape, count: count, size: binaryDataSize,
                binary: &binary, elementBudget: &elementBudget)
        }
        guard let data else {
            throw .malformed("\(role) '\(name)' has neither \"data\" nor a binary_data_size parameter")
        }
        guard data.count == count else {
            throw .malformed("\(role) '\(name)' has \(data.count) values but shape \(shape) needs \(count)")
        }
        guard data.depth <= max(shape.count, 1) else {
            throw .malformed(
                "\(role) '\(name)': \"data\" nests \(data.depth) arrays deep but shape \(shape) has rank \(shape.count)"
            )
        }
        try spend(count, of: &elementBudget)
        reader.scanner.position = data.start
        let buffer = try convert(role: role, name: name, dataType: dataType, data: data, reader: &reader)
        return HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer)
    }

    private func binaryTensor(
        role: String, name: String, dataType: DataType, shape: [Int64], count: Int, size: Int64,
        binary: inout BinarySection, elementBudget: inout Int
    ) throws(KServeCodecError) -> HostTensor {
        guard size >= 0, let byteCount = Int(exactly: size), let bytes = binary.take(byteCount) else {
            throw .malformed(
                "\(role) '\(name)': binary_data_size \(binaryDataSizeText ?? "") exceeds the \(binary.remaining) bytes "
                    + "of binary data left")
        }
        if dataType == .bytes {
            guard let elements = BytesElements.count(bytes) else {
                throw .malformed("\(role) '\(name)' holds malformed BYTES data")
            }
            guard elements == count else {
                throw .malformed(
                    "\(role) '\(name)' holds \(elements) BYTES elements but its shape \(shape) needs \(count)")
            }
        } else {
            let expected = dataType.byteCount(forShape: shape)
            guard expected == byteCount else {
                let needed = expected.map { String($0) } ?? "more than can be addressed"
                throw .malformed(
                    "\(role) '\(name)' holds \(byteCount) bytes but shape \(shape) of \(dataType) needs \(needed)")
            }
        }
        try spend(count, of: &elementBudget)
        guard let buffer = TensorBuffer(copying: bytes) else {
            throw .outOfMemory("out of memory for \(role) '\(name)'")
        }
        return HostTensor(name: name, dataType: dataType, shape: shape, buffer: buffer)
    }

    private func spend(_ count: Int, of budget: inout Int) throws(KServeCodecError) {
        guard count <= budget else {
            throw .limitExceeded("the message holds more than the limit of tensor elements (\(name ?? ""))")
        }
        budget -= count
    }

    /// Converts the located `data` into a new buffer of `dataType`, checking each value.
    private func convert(
        role: String, name: String, dataType: DataType, data: DataExtent, reader: inout Reader
    ) throws(KServeCodecError) -> TensorBuffer {
        guard let elementSize = dataType.elementSize else {
            return try bytesBuffer(role: role, name: name, data: data, reader: &reader)
        }
        let (byteCount, overflow) = data.count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, let buffer = TensorBuffer(count: byteCount) else {
            throw .outOfMemory("out of memory for \(role) '\(name)'")
        }
        let out = buffer.mutableBytes
        var index = 0
        func invalid(_ reader: Reader, _ start: Int) -> KServeCodecError {
            .malformed("\(role) '\(name)': value \(reader.text(from: start)) is not a valid \(dataType)")
        }
        // Reads each leaf as a number (anything else is refused) and stores what `value` makes of it.
        func each<T: BitwiseCopyable>(
            _ type: T.Type, _ value: (JSONNumber) -> T?
        ) throws(KServeCodecError) {
            try TensorHeader.forEachLeaf(&reader) { reader, kind throws(KServeCodecError) in
                let start = reader.scanner.position
                guard kind == .number else {
                    try reader.skip()
                    throw invalid(reader, start)
                }
                guard let converted = value(try reader.number()), index < data.count else {
                    throw invalid(reader, start)
                }
                out.storeBytes(of: converted, toByteOffset: index * MemoryLayout<T>.size, as: T.self)
                index += 1
            }
        }
        switch dataType {
        case .bool:
            try TensorHeader.forEachLeaf(&reader) { reader, kind throws(KServeCodecError) in
                let start = reader.scanner.position
                guard kind == .bool, index < data.count else {
                    try reader.skip()
                    throw invalid(reader, start)
                }
                out.storeBytes(of: try reader.bool() ? 1 : 0, toByteOffset: index, as: UInt8.self)
                index += 1
            }
        case .uint8: try each(UInt8.self) { $0.integer(as: UInt8.self) }
        case .uint16: try each(UInt16.self) { $0.integer(as: UInt16.self)?.littleEndian }
        case .uint32: try each(UInt32.self) { $0.integer(as: UInt32.self)?.littleEndian }
        case .uint64: try each(UInt64.self) { $0.integer(as: UInt64.self)?.littleEndian }
        case .int8: try each(Int8.self) { $0.integer(as: Int8.self) }
        case .int16: try each(Int16.self) { $0.integer(as: Int16.self)?.littleEndian }
        case .int32: try each(Int32.self) { $0.integer(as: Int32.self)?.littleEndian }
        case .int64: try each(Int64.self) { $0.integer(as: Int64.self)?.littleEndian }
        case .fp16: try each(UInt16.self) { Float16($0.value).bitPattern.littleEndian }
        case .bf16: try each(UInt16.self) { BFloat16(Float($0.value)).bitPattern.littleEndian }
        case .fp32: try each(UInt32.self) { Float($0.value).bitPattern.littleEndian }
        case .fp64: try each(UInt64.self) { $0.value.bitPattern.littleEndian }
        case .bytes: break
        }
        guard index == data.count else { throw .malformed("\(role) '\(name)': \"data\" changed while it was read") }
        return buffer
    }

    /// Writes string leaves straight into the BYTES layout: a little-endian `UInt32` length, then the bytes.
    private func bytesBuffer(
        role: String, name: String, data: DataExtent, reader: inout Reader
    ) throws(KServeCodecError) -> TensorBuffer {
        let (prefixes, overflowPrefixes) = data.count.multipliedReportingOverflow(by: 4)
        let (byteCount, overflow) = prefixes.addingReportingOverflow(data.stringBytes)
        guard !overflowPrefixes, !overflow, let buffer = TensorBuffer(count: byteCount) else {
            throw .outOfMemory("out of memory for \(role) '\(name)'")
        }
        let out = buffer.mutableBytes
        var offset = 0
        try TensorHeader.forEachLeaf(&reader) { reader, kind throws(KServeCodecError) in
            guard kind == .string, out.count - offset >= 4 else {
                throw .malformed("\(role) '\(name)': BYTES values must be strings")
            }
            let lengthOffset = offset
            offset += 4
            var fits = true
            try reader.string { piece in
                guard !piece.isEmpty else { return }
                guard fits, let source = piece.baseAddress, piece.count <= out.count - offset else {
                    fits = false
                    return
                }
                (buffer.baseAddress + offset).copyMemory(from: source, byteCount: piece.count)
                offset += piece.count
            }
            guard fits, let length = UInt32(exactly: offset - lengthOffset - 4) else {
                throw .malformed("\(role) '\(name)': a BYTES value does not fit its element")
            }
            out.storeBytes(of: length.littleEndian, toByteOffset: lengthOffset, as: UInt32.self)
        }
        guard offset == byteCount else { throw .malformed("\(role) '\(name)': \"data\" changed while it was read") }
        return buffer
    }
}
