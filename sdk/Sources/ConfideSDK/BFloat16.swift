/// A bfloat16 number: the upper 16 bits of an IEEE 754 single-precision `Float` (sign, 8 exponent bits, 7 fraction
/// bits), as tensors of ``DataType/bf16`` and the kernels' BF16 arithmetic hold it. The one conversion between
/// `Float` and bfloat16 in Confide.
public struct BFloat16: Sendable {
    /// The 16 bits.
    public var bitPattern: UInt16

    /// The number with these bits.
    public init(bitPattern: UInt16) {
        self.bitPattern = bitPattern
    }

    /// `value` rounded to the nearest bfloat16, ties to even, as the kernels round. Infinities and zeros keep their
    /// sign, values beyond the largest bfloat16 become infinities, and a NaN stays a NaN (quiet, with its sign).
    public init(_ value: Float) {
        let bits = value.bitPattern
        guard !value.isNaN else {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
            return
        }
        // Below NaN's bit patterns the sum cannot wrap: the largest is -infinity's, 0xFF80_0000 + 0x8000.
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        bitPattern = UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The number as a `Float`, exactly (every bfloat16 is one).
    public var floatValue: Float {
        Float(bitPattern: UInt32(bitPattern) << 16)
    }
}

extension Float {
    /// The value of a bfloat16, exactly.
    public init(_ value: BFloat16) {
        self = value.floatValue
    }
}
