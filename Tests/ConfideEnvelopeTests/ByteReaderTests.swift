import ConfideEnvelope
import Testing

struct ByteReaderTests {
    /// RFC 9000 Appendix A.1's sample variable-length integers.
    static let samples: [([UInt8], UInt64)] = [
        ([0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c], 151_288_809_941_952_652),
        ([0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
        ([0x7b, 0xbd], 15_293),
        ([0x25], 37),
        ([0x40, 0x25], 37),
    ]

    @Test(arguments: Self.samples)
    func readsRFC9000VarInts(bytes: [UInt8], value: UInt64) throws {
        var reader = ByteReader(bytes)
        #expect(try reader.readVarInt() == value)
        #expect(reader.isAtEnd)
    }

    @Test func writesShortestVarInts() throws {
        for value: UInt64 in [0, 63, 64, 16_383, 16_384, 1_073_741_823, 1_073_741_824, ByteWriter.maximumVarInt] {
            var writer = ByteWriter()
            try writer.writeVarInt(value)
            var reader = ByteReader(writer.bytes)
            #expect(try reader.readVarInt() == value)
            #expect(reader.isAtEnd)
        }
        var writer = ByteWriter()
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) {
            try writer.writeVarInt(ByteWriter.maximumVarInt + 1)
        }
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) { try writer.writeVarInt(-1) }
    }

    @Test func reportsTruncationWithoutMoving() throws {
        var reader = ByteReader([0x01, 0x02, 0x03])
        #expect(throws: EnvelopeError.truncatedInput(reason: "")) { try reader.readUInt32() }
        #expect(reader.offset == 0)
        #expect(try reader.readUInt16() == 0x0102)
        #expect(throws: EnvelopeError.truncatedInput(reason: "")) { try reader.readBytes(count: 2) }
        #expect(throws: EnvelopeError.truncatedInput(reason: "")) { try reader.readBytes(count: -1) }
        #expect(reader.readRemainingBytes() == [0x03])
        #expect(throws: EnvelopeError.truncatedInput(reason: "")) { try reader.readUInt8() }
        var varInt = ByteReader([0x80, 0x01, 0x02])
        #expect(throws: EnvelopeError.truncatedInput(reason: "")) { try varInt.readVarInt() }
        #expect(varInt.offset == 0)
    }

    @Test func readsLengthPrefixedBytes() throws {
        var writer = ByteWriter()
        try writer.writeUInt16PrefixedBytes([1, 2])
        try writer.writeVarIntPrefixedBytes([3])
        writer.writeUInt64(7)
        var reader = ByteReader(writer.bytes + [0x05, 0x00])
        #expect(try reader.readUInt16PrefixedBytes() == [1, 2])
        #expect(try reader.readVarIntPrefixedBytes(maximumLength: 1) == [3])
        #expect(try reader.readUInt64() == 7)
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) {
            try reader.readVarIntPrefixedBytes(maximumLength: 4)
        }
        #expect(throws: EnvelopeError.truncatedInput(reason: "")) { try reader.readVarIntPrefixedBytes() }
        #expect(reader.remainingCount == 2)
    }
}
