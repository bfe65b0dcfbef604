/// Checks and encodes UTF-8 without building strings.
package enum UTF8Validation {
    /// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or scalars past U+10FFFF).
    package static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                upper = 0x9F
            case 0xF0:
                length = 4
                lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                upper = 0x8F
            default: return false
            }
            guard count - index >= length else { return false }
            let second = bytes[index + 1]
            guard second >= lower, second <= upper else { return false }
            for offset in 2..<max(length, 2) where bytes[index + offset] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }

    /// The UTF-8 of a Unicode scalar value (one that is not a surrogate), as up to 4 bytes.
    package static func encode(_ scalar: UInt32) -> (bytes: (UInt8, UInt8, UInt8, UInt8), count: Int) {
        func byte(_ value: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: value) }
        switch scalar {
        case 0..<0x80:
            return ((byte(scalar), 0, 0, 0), 1)
        case 0x80..<0x800:
            return ((byte(0xC0 | scalar >> 6), byte(0x80 | scalar & 0x3F), 0, 0), 2)
        case 0x800..<0x10000:
            return ((byte(0xE0 | scalar >> 12), byte(0x80 | scalar >> 6 & 0x3F), byte(0x80 | scalar & 0x3F), 0), 3)
        default:
            let bytes = (
                byte(0xF0 | scalar >> 18 & 0x07), byte(0x80 | scalar >> 12 & 0x3F), byte(0x80 | scalar >> 6 & 0x3F),
                byte(0x80 | scalar & 0x3F)
            )
            return (bytes, 4)
        }
    }
}
