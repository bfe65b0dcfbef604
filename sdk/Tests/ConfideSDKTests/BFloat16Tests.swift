import ConfideSDK
import Testing

@Suite("bfloat16")
struct BFloat16Tests {
    /// Rounding to nearest, ties to even, on bit patterns whose low half is below, at and above the halfway point.
    @Test(arguments: [
        (UInt32(0x3F80_0000), UInt16(0x3F80)),  // 1 is exact
        (0x3F80_7FFF, 0x3F80),  // just below halfway: down
        (0x3F80_8000, 0x3F80),  // halfway, even below: stays even
        (0x3F81_8000, 0x3F82),  // halfway, odd below: up to even
        (0x3F80_8001, 0x3F81),  // just above halfway: up
        (0xBF80_8001, 0xBF81),  // negative: away from zero in magnitude, same rule
        (0x3FFF_FFFF, 0x4000),  // a carry into the exponent
        (0x0000_0001, 0x0000),  // the smallest subnormal rounds to zero
        (0x8000_0000, 0x8000),  // -0 keeps its sign
        (0x7F7F_FFFF, 0x7F80),  // beyond the largest bfloat16: +infinity
        (0xFF7F_FFFF, 0xFF80),  // and -infinity
        (0x7F80_0000, 0x7F80),  // +infinity stays
        (0xFF80_0000, 0xFF80),  // -infinity stays
    ])
    func roundsToNearestEven(float: UInt32, bfloat16: UInt16) {
        #expect(BFloat16(Float(bitPattern: float)).bitPattern == bfloat16)
    }

    /// A NaN stays a NaN with its sign, even one whose payload lies only in the low half (truncating would make it
    /// an infinity), and comes back as a quiet NaN.
    @Test(arguments: [UInt32(0x7FC0_0000), 0xFFC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF])
    func nanStaysNaN(float: UInt32) {
        let value = BFloat16(Float(bitPattern: float))
        #expect(Float(value).isNaN)
        #expect(value.bitPattern & 0x0040 != 0)
        #expect(value.bitPattern >> 15 == UInt16(float >> 31))
    }

    /// Every bfloat16 is a `Float` exactly: widening then rounding gives the same bits back.
    @Test func everyNonNaNRoundTrips() {
        for bits in UInt16.min...UInt16.max {
            let value = Float(BFloat16(bitPattern: bits))
            #expect(value.bitPattern == UInt32(bits) << 16)
            if !value.isNaN, BFloat16(value).bitPattern != bits {
                Issue.record("bfloat16 \(bits) does not round-trip")
                return
            }
        }
    }
}
