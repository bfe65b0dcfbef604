import ConfideJSON
import ConfideSDK
import ConfideTensors

/// A ``JSONScanner`` whose errors are ``KServeCodecError``s.
struct Reader {
    var scanner: JSONScanner
    /// What is read ("request" or "response"), for messages.
    let message: String

    init(_ bytes: UnsafeBufferPointer<UInt8>, message: String, limits: KServeLimits) {
        scanner = JSONScanner(bytes, maximumDepth: limits.maximumDepth)
        self.message = message
    }

    /// Runs scanner calls, turning a JSON error into a codec error.
    mutating func json<T>(_ body: (inout JSONScanner) throws(JSONError) -> T) throws(KServeCodecError) -> T {
        do throws(JSONError) {
            return try body(&scanner)
        } catch {
            throw error.isLimit
                ? .limitExceeded("the \(message) is too deeply nested: \(error)")
                : .malformed("malformed \(message): \(error)")
        }
    }

    mutating func kind() throws(KServeCodecError) -> JSONKind {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.peekKind() }
    }

    mutating func skip() throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.skipValue() }
    }

    mutating func openObject() throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.openObject() }
    }

    mutating func nextKey() throws(KServeCodecError) -> String? {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.nextKey() }
    }

    mutating func openArray() throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.openArray() }
    }

    mutating func nextElement() throws(KServeCodecError) -> Bool {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.nextElement() }
    }

    mutating func number() throws(KServeCodecError) -> JSONNumber {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.readNumber() }
    }

    mutating func skipNumber() throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.skipNumber() }
    }

    mutating func bool() throws(KServeCodecError) -> Bool {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.readBool() }
    }

    mutating func null() throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.readNull() }
    }

    mutating func expectEnd() throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.expectEnd() }
    }

    /// Reads a string, handing its decoded UTF-8 to `emit` in pieces.
    mutating func string(_ emit: (UnsafeRawBufferPointer) -> Void) throws(KServeCodecError) {
        try json { (scanner: inout JSONScanner) throws(JSONError) in try scanner.readString(emit) }
    }

    /// Reads a string of at most `maximumLength` bytes; `what` names it in the error for a longer one.
    mutating func string(maximumLength: Int, _ what: @autoclosure () -> String) throws(KServeCodecError) -> String {
        let text = try json { (scanner: inout JSONScanner) throws(JSONError) in
            try scanner.readString(maximumLength: maximumLength)
        }
        guard let text else {
            throw .limitExceeded("\(what()) is longer than \(maximumLength) bytes")
        }
        return text
    }

    /// Reads a value that must be of `kind`, or throws `problem`.
    mutating func expect(_ kind: JSONKind, else problem: @autoclosure () -> String) throws(KServeCodecError) {
        guard try self.kind() == kind else { throw .malformed(problem()) }
    }

    /// The text of the value that starts at `start` and ends at the current position, shortened for messages.
    func text(from start: Int) -> String {
        let end = min(scanner.position, scanner.bytes.count)
        guard start >= 0, start < end else { return "" }
        let shown = min(end - start, 40)
        let text = String(
            decoding: UnsafeBufferPointer(rebasing: scanner.bytes[start..<(start + shown)]), as: UTF8.self)
        return shown < end - start ? text + "..." : text
    }
}

/// Where a tensor's JSON `data` is and what it holds, found by one pass that builds nothing.
struct DataExtent {
    /// The offset of the value.
    var start = 0
    /// The number of leaf values.
    var count = 0
    /// How deeply its arrays nest (0 for a single value).
    var depth = 0
    /// The bytes of UTF-8 of all string leaves together.
    var stringBytes = 0
}

/// The members of one tensor object (`name`, `datatype`, `shape`, `parameters`, `data`), read in any order.
struct TensorHeader {
    var name: String?
    var typeName: String?
    var shape: [Int64]?
    var shapeIsValid = true
    var binaryDataSize: Int64?
    var binaryDataSizeText: String?
    var data: DataExtent?

    /// Reads a tensor object; `data` is checked and located, not converted.
    static func read(
        _ reader: inout Reader, role: String, limits: KServeLimits
    ) throws(KServeCodecError) -> TensorHeader {
        try reader.expect(.object, else: "each \(role) must be an object")
        try reader.openObject()
        var header = TensorHeader()
        var seen = KeySet()
        while let key = try reader.nextKey() {
            switch key {
            case "name", "datatype", "shape", "parameters", "data":
                try seen.insert(key, in: "an \(role)")
            default: break
            }
            switch key {
            case "name":
                try reader.expect(.string, else: "an \(role)'s \"name\" must be a string")
                let name = try reader.string(maximumLength: limits.maximumNameLength, "an \(role) name")
                guard !name.utf8.contains(0) else {
                    throw .malformed("\(role) name '\(name.replacing("\0", with: "\\0"))' contains a NUL character")
                }
                header.name = name
            case "datatype":
                try reader.expect(.string, else: "an \(role)'s \"datatype\" must be a string")
                let typeName = try reader.json { (scanner: inout JSONScanner) throws(JSONError) in
                    try scanner.readString(maximumLength: 64)
                }
                header.typeName = typeName ?? "(a string of more than 64 bytes)"
            case "shape":
                try reader.expect(.array, else: "an \(role)'s \"shape\" must be an array")
                try reader.openArray()
                var shape: [Int64] = []
                while try reader.nextElement() {
                    guard shape.count < limits.maximumRank else {
                        throw .limitExceeded("an \(role)'s shape has more than \(limits.maximumRank) dimensions")
                    }
                    guard try reader.kind() == .number else {
                        header.shapeIsValid = false
                        try reader.skip()
                        continue
                    }
                    if let size = try reader.number().integer(as: Int64.self), size >= 0 {
                        shape.append(size)
                    } else {
                        header.shapeIsValid = false
                    }
                }
                header.shape = shape
            case "parameters":
                try reader.expect(.object, else: "an \(role)'s \"parameters\" must be an object")
                try reader.openObject()
                while let parameter = try reader.nextKey() {
                    guard parameter == "binary_data_size" else {
                        try reader.skip()
                        continue
                    }
                    let start = reader.scanner.position
                    if try reader.kind() == .number {
                        header.binaryDataSize = try reader.number().integer(as: Int64.self) ?? -1
                    } else {
                        try reader.skip()
                        header.binaryDataSize = -1
                    }
                    header.binaryDataSizeText = reader.text(from: start)
                }
            case "data":
                header.data = try scanData(&reader)
            default:
                try reader.skip()
            }
        }
        return header
    }

    /// Checks a `data` value (nested arrays of numbers, booleans and strings) and measures it.
    private static func scanData(_ reader: inout Reader) throws(KServeCodecError) -> DataExtent {
        reader.scanner.skipWhitespace()
        var extent = DataExtent(start: reader.scanner.position)
        let base = reader.scanner.depth
        try forEachLeaf(&reader) { reader, kind throws(KServeCodecError) in
            extent.depth = max(extent.depth, reader.scanner.depth - base)
            switch kind {
            case .string:
                var length = 0
                try reader.string { length &+= $0.count }
                let (total, overflow) = extent.stringBytes.addingReportingOverflow(length)
                guard !overflow else { throw .limitExceeded("\"data\" holds too many bytes of strings") }
                extent.stringBytes = total
            case .number: try reader.skipNumber()
            case .bool: _ = try reader.bool()
            case .null: try reader.null()
            case .object, .array: throw .malformed("\"data\" arrays may hold only numbers, booleans and strings")
            }
            extent.count += 1
        }
        return extent
    }

    /// Calls `visit` for each leaf of the nested arrays (or the single value) at the reader's position, in
    /// row-major order; `visit` must read the leaf.
    static func forEachLeaf(
        _ reader: inout Reader, _ visit: (inout Reader, JSONKind) throws(KServeCodecError) -> Void
    ) throws(KServeCodecError) {
        let kind = try reader.kind()
        guard kind == .array else { return try visit(&reader, kind) }
        try reader.openArray()
        while try reader.nextElement() { try forEachLeaf(&reader, visit) }
    }
}

/// The known keys an object has had, to refuse one given twice.
struct KeySet {
    private var seen: [String] = []

    /// Records `key`; throws when `owner` (for example "an input") already had it.
    mutating func insert(_ key: String, in owner: String) throws(KServeCodecError) {
        guard !seen.contains(key) else { throw .malformed("\(owner) has the key \"\(key)\" twice") }
        seen.append(key)
    }
}
