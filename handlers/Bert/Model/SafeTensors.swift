import ConfideJSON
import ConfideSDK

/// The element type of a tensor in a safetensors file.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case float8E4M3 = "F8_E4M3"
    case float8E5M2 = "F8_E5M2"
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case int64 = "I64"
    case uint64 = "U64"
    case float64 = "F64"

    /// The size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E4M3, .float8E5M2: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }
}

/// One tensor of a safetensors file: its type, its shape and a read-only view of its little-endian,
/// row-major bytes, which stay valid (and at the same address) as long as the view exists.
public struct TensorView: @unchecked Sendable {
    /// The tensor's name in the file.
    public let name: String
    /// The element type.
    public let dtype: SafeTensorsDType
    /// The dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// The raw bytes: exactly `elementCount * dtype.byteSize` of them.
    public let bytes: UnsafeRawBufferPointer
    private let storage: ByteStorage

    init(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: UnsafeRawBufferPointer, storage: ByteStorage) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.storage = storage
    }

    /// The number of elements (the product of the shape; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// The elements as `Float`, when the tensor is `F32` and its bytes are 4-byte aligned (always on
    /// little-endian machines for files whose offsets are multiples of 4, as PyTorch writes them).
    public var float32: UnsafeBufferPointer<Float>? { typed(Float.self, .float32) }

    /// The elements as raw 16-bit patterns, when the tensor is `F16` or `BF16` and 2-byte aligned.
    public var bits16: UnsafeBufferPointer<UInt16>? {
        dtype == .float16 || dtype == .bfloat16 ? typed(UInt16.self, dtype) : nil
    }

    /// The elements as `Int64`, when the tensor is `I64` and 8-byte aligned.
    public var int64: UnsafeBufferPointer<Int64>? { typed(Int64.self, .int64) }

    /// The elements converted to `Float`, for `F32`, `F16`, `BF16` and `F64` tensors at any alignment.
    public func floats() -> [Float]? {
        let count = elementCount
        switch dtype {
        case .float32:
            return (0..<count).map {
                Float(bitPattern: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian)
            }
        case .float16:
            return (0..<count).map {
                Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian))
            }
        case .bfloat16:
            return (0..<count).map {
                Float(BFloat16(bitPattern: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian))
            }
        case .float64:
            return (0..<count).map {
                Float(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self).littleEndian))
            }
        default:
            return nil
        }
    }

    private func typed<T>(_ type: T.Type, _ expected: SafeTensorsDType) -> UnsafeBufferPointer<T>? {
        guard dtype == expected, let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<T>.alignment == 0
        else { return nil }
        #if _endian(big)
            return nil
        #else
            return UnsafeBufferPointer(
                start: base.assumingMemoryBound(to: T.self), count: bytes.count / MemoryLayout<T>.stride)
        #endif
    }
}

/// A safetensors file (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range, and the tensors' raw bytes.
///
/// Opening a file maps it read-only instead of reading it, so tensors are views into the page cache. Every rule of
/// the format is checked, and a malformed file is a ``BertModelError`` with code `.malformedSafeTensors` that says
/// what is wrong; no input traps. The checks are those of the reference implementation: the header is a JSON object
/// of UTF-8 text within the file and at most 100 MB; names are unique; each entry has exactly `dtype`, `shape`
/// and `data_offsets`; a tensor's byte size matches its dtype and shape; the byte ranges lie inside the data,
/// do not overlap, and cover it without holes.
public final class SafeTensors: Sendable {
    /// The most header bytes accepted.
    public static let maximumHeaderLength = 100_000_000

    /// The tensors by name.
    public let tensors: [String: TensorView]
    /// The tensor names in the order of their bytes in the file.
    public let names: [String]
    /// The `__metadata__` strings of the header (`[:]` when absent).
    public let metadata: [String: String]
    private let storage: ByteStorage

    /// Maps and parses the safetensors file at `path`.
    public convenience init(contentsOf path: String) throws(BertModelError) {
        let storage = try ByteStorage(mapping: path)
        do {
            try self.init(storage: storage)
        } catch {
            throw BertModelError(error.code, "\(path): \(error.message)")
        }
    }

    /// Once the weights a model needs are copied out (packed), gives a mapped file's pages back to the page
    /// cache so they stop counting in resident memory; views stay valid and map pages again when read.
    public func releaseResidentPages() { storage.releaseResidentPages() }

    /// Parses safetensors bytes a host holds in memory, without copying them: the caller keeps them alive and
    /// unchanged for as long as this object and its tensor views live (e.g. a model file from an encrypted
    /// archive, which the host keeps until the model is unloaded).
    public convenience init(borrowing bytes: UnsafeRawBufferPointer) throws(BertModelError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { throw .malformedSafeTensors("the file is empty") }
        try self.init(storage: ByteStorage(borrowing: base, count: bytes.count))
    }

    /// Parses safetensors bytes held in memory (they are copied).
    public convenience init(bytes: some Collection<UInt8>) throws(BertModelError) {
        try self.init(storage: ByteStorage(copying: bytes))
    }

    private init(storage: ByteStorage) throws(BertModelError) {
        self.storage = storage
        let file = storage.buffer
        guard file.count >= 8 else {
            throw .malformedSafeTensors("the file has \(file.count) bytes, fewer than the 8-byte header length")
        }
        let declared = file.loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(file.count - 8) else {
            throw .malformedSafeTensors(
                "the header length \(declared) runs past the end of the file (\(file.count) bytes)")
        }
        let headerLength = Int(declared)
        guard headerLength <= Self.maximumHeaderLength else {
            throw .malformedSafeTensors("the header length \(headerLength) is above \(Self.maximumHeaderLength)")
        }
        guard headerLength >= 2 else { throw .malformedSafeTensors("the header length \(headerLength) is too small") }
        let header = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        guard header[0] == UInt8(ascii: "{") else { throw .malformedSafeTensors("the header does not start with '{'") }
        let root: JSONValue
        do {
            root = try JSONParser.parse(header)
        } catch {
            throw .malformedSafeTensors("the header is not valid JSON: \(error)")
        }
        guard let object = root.objectValue else { throw .malformedSafeTensors("the header is not a JSON object") }

        let dataStart = 8 + headerLength
        let data = UnsafeRawBufferPointer(rebasing: file[dataStart...])
        var entries: [(name: String, dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int)] = []
        var metadata: [String: String] = [:]
        for (name, value) in object.orderedMembers {
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(value)
                continue
            }
            let entry = try Self.parseEntry(name, value)
            entries.append((name, entry.dtype, entry.shape, entry.begin, entry.end))
        }

        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var tensors: [String: TensorView] = [:]
        for entry in entries {
            guard entry.end <= data.count else {
                throw .malformedSafeTensors(
                    "tensor \"\(entry.name)\": bytes \(entry.begin)..<\(entry.end) run past the end of the data (\(data.count) bytes)"
                )
            }
            guard entry.begin == position else {
                throw .malformedSafeTensors(
                    entry.begin < position
                        ? "tensor \"\(entry.name)\": bytes \(entry.begin)..<\(entry.end) overlap another tensor"
                        : "tensor \"\(entry.name)\": bytes \(position)..<\(entry.begin) before it belong to no tensor")
            }
            position = entry.end
            let bytes = UnsafeRawBufferPointer(rebasing: data[entry.begin..<entry.end])
            tensors[entry.name] = TensorView(
                name: entry.name, dtype: entry.dtype, shape: entry.shape, bytes: bytes, storage: storage)
        }
        guard position == data.count else {
            throw .malformedSafeTensors("the last \(data.count - position) bytes of the data belong to no tensor")
        }
        self.tensors = tensors
        self.names = entries.map(\.name)
        self.metadata = metadata
    }

    /// The tensor named `name`.
    public subscript(name: String) -> TensorView? { tensors[name] }

    /// The tensor named `name`, checked to have the given shape and one of the given types.
    public func tensor(_ name: String, shape: [Int], dtypes: Set<SafeTensorsDType>) throws(BertModelError) -> TensorView
    {
        guard let tensor = tensors[name] else { throw .malformedSafeTensors("no tensor named \"\(name)\"") }
        guard tensor.shape == shape else {
            throw .malformedSafeTensors("tensor \"\(name)\" has shape \(tensor.shape), expected \(shape)")
        }
        guard dtypes.contains(tensor.dtype) else {
            throw .malformedSafeTensors(
                "tensor \"\(name)\" has dtype \(tensor.dtype.rawValue), expected one of "
                    + dtypes.map(\.rawValue).sorted().joined(separator: ", "))
        }
        return tensor
    }

    private static func parseMetadata(_ value: JSONValue) throws(BertModelError) -> [String: String] {
        guard let object = value.objectValue else { throw .malformedSafeTensors("__metadata__ is not an object") }
        var metadata: [String: String] = [:]
        for (key, value) in object.orderedMembers {
            guard let string = value.stringValue else {
                throw .malformedSafeTensors("__metadata__ \"\(key)\" is \(value.kindName), not a string")
            }
            metadata[key] = string
        }
        return metadata
    }

    private static func parseEntry(
        _ name: String, _ value: JSONValue
    ) throws(BertModelError) -> (dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int) {
        guard let entry = value.objectValue else { throw .malformedSafeTensors("tensor \"\(name)\" is not an object") }
        for key in entry.keys where !["dtype", "shape", "data_offsets"].contains(key) {
            throw .malformedSafeTensors("tensor \"\(name)\" has an unknown field \"\(key)\"")
        }
        guard let dtypeName = entry["dtype"]?.stringValue else {
            throw .malformedSafeTensors("tensor \"\(name)\" has no string \"dtype\"")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw .malformedSafeTensors("tensor \"\(name)\" has an unknown dtype \"\(dtypeName)\"")
        }
        guard let dimensions = entry["shape"]?.arrayValue else {
            throw .malformedSafeTensors("tensor \"\(name)\" has no \"shape\" array")
        }
        var shape: [Int] = []
        var elements = 1
        for dimension in dimensions {
            guard let size = dimension.int64Value, size >= 0, let size = Int(exactly: size) else {
                throw .malformedSafeTensors("tensor \"\(name)\" has a shape that is not a list of sizes ≥ 0")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { throw .malformedSafeTensors("tensor \"\(name)\" has too many elements") }
            elements = product
            shape.append(size)
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw .malformedSafeTensors("tensor \"\(name)\" has too many elements") }
        guard let offsets = entry["data_offsets"]?.arrayValue, offsets.count == 2,
            let first = offsets[0].int64Value, let last = offsets[1].int64Value,
            let begin = Int(exactly: first), let end = Int(exactly: last), begin >= 0, end >= begin
        else {
            throw .malformedSafeTensors("tensor \"\(name)\" needs \"data_offsets\" [begin, end] with 0 ≤ begin ≤ end")
        }
        guard end - begin == byteCount else {
            throw .malformedSafeTensors(
                "tensor \"\(name)\": \(dtype.rawValue) \(shape) needs \(byteCount) bytes, but data_offsets hold \(end - begin)"
            )
        }
        return (dtype, shape, begin, end)
    }
}
