/// Encoding and decoding of ``DataType/bytes`` tensor data: each element is a little-endian `UInt32`
/// length followed by that many bytes.
public enum BytesElements {
    /// Splits serialised BYTES data into its elements. Throws when a length runs past the end.
    public static func decode(_ data: UnsafeRawBufferPointer) throws(HandlerError) -> [UnsafeRawBufferPointer] {
        var elements: [UnsafeRawBufferPointer] = []
        var offset = 0
        while offset < data.count {
            guard data.count - offset >= 4 else {
                throw .invalidArgument("BYTES data ends inside an element's 4-byte length")
            }
            let length = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
            guard data.count - offset >= length else {
                throw .invalidArgument("BYTES element of \(length) bytes runs past the end of the data")
            }
            elements.append(UnsafeRawBufferPointer(rebasing: data[offset..<(offset + length)]))
            offset += length
        }
        return elements
    }

    /// Counts the elements of serialised BYTES data, or `nil` when it is malformed.
    public static func count(_ data: UnsafeRawBufferPointer) -> Int? {
        (try? decode(data))?.count
    }

    /// The serialised size of the given elements. Throws when an element is 4 GiB or larger (its length does
    /// not fit the 4-byte prefix) or the total overflows.
    public static func encodedSize<C: Collection>(_ elements: C) throws(HandlerError) -> Int
    where C.Element: Collection<UInt8> {
        var size = 0
        for element in elements {
            guard UInt32(exactly: element.count) != nil else {
                throw .invalidArgument("a BYTES element of \(element.count) bytes is longer than 4 GiB - 1")
            }
            let (withPrefix, overflowPrefix) = element.count.addingReportingOverflow(4)
            let (total, overflow) = size.addingReportingOverflow(withPrefix)
            guard !overflowPrefix, !overflow else { throw .invalidArgument("BYTES elements too large to serialise") }
            size = total
        }
        return size
    }

    /// Serialises elements into `buffer`. Throws, leaving the buffer partly written, when an element is 4 GiB
    /// or larger or the elements do not fit the buffer.
    public static func encode<C: Collection>(_ elements: C, into buffer: UnsafeMutableRawBufferPointer)
        throws(HandlerError)
    where C.Element: Collection<UInt8> {
        var offset = 0
        for element in elements {
            guard let length = UInt32(exactly: element.count) else {
                throw .invalidArgument("a BYTES element of \(element.count) bytes is longer than 4 GiB - 1")
            }
            guard buffer.count - offset >= 4, buffer.count - offset - 4 >= element.count else {
                throw .invalidArgument("BYTES elements do not fit a buffer of \(buffer.count) bytes")
            }
            buffer.storeBytes(of: length.littleEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
            for byte in element {
                buffer[offset] = byte
                offset += 1
            }
        }
    }

    /// Serialises elements into a new byte array. Throws when an element is 4 GiB or larger.
    public static func encode<C: Collection>(_ elements: C) throws(HandlerError) -> [UInt8]
    where C.Element: Collection<UInt8> {
        let size = try encodedSize(elements)
        var bytes = [UInt8](repeating: 0, count: size)
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(HandlerError) in try encode(elements, into: buffer) }
        }
        try result.get()
        return bytes
    }
}
