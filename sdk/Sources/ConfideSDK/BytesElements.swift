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

    /// The serialised size of the given elements.
    public static func encodedSize<C: Collection>(_ elements: C) -> Int where C.Element: Collection<UInt8> {
        elements.reduce(0) { $0 + 4 + $1.count }
    }

    /// Serialises elements into `buffer`, which must hold exactly ``encodedSize(_:)`` bytes.
    public static func encode<C: Collection>(_ elements: C, into buffer: UnsafeMutableRawBufferPointer)
    where C.Element: Collection<UInt8> {
        var offset = 0
        for element in elements {
            buffer.storeBytes(of: UInt32(element.count).littleEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
            for byte in element {
                buffer[offset] = byte
                offset += 1
            }
        }
    }

    /// Serialises elements into a new byte array.
    public static func encode<C: Collection>(_ elements: C) -> [UInt8] where C.Element: Collection<UInt8> {
        [UInt8](unsafeUninitializedCapacity: encodedSize(elements)) { buffer, count in
            encode(elements, into: UnsafeMutableRawBufferPointer(buffer))
            count = buffer.count
        }
    }
}
