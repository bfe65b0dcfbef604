import ConfideEnvelope
import Testing

/// Runs every fuzz entry point over random and mutated inputs; a trap fails the whole test process.
struct FuzzEntryPointTests {
    /// A small deterministic generator so failures reproduce.
    private struct SplitMix64: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var value = self.state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            return value ^ (value >> 31)
        }
    }

    private static func inputs(seeds: [[UInt8]], count: Int) -> [[UInt8]] {
        var generator = SplitMix64(state: 0x5EED)
        var inputs = seeds
        for index in 0..<count {
            if index % 3 == 0 || seeds.isEmpty {
                let length = Int.random(in: 0..<96, using: &generator)
                inputs.append((0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
                continue
            }
            var input = seeds[index % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                switch Int.random(in: 0..<4, using: &generator) {
                case 0 where !input.isEmpty:
                    let position = Int.random(in: 0..<input.count, using: &generator)
                    input[position] = UInt8.random(in: .min ... .max, using: &generator)
                case 1 where !input.isEmpty:
                    input.removeLast(Int.random(in: 1...input.count, using: &generator))
                case 2:
                    let position = Int.random(in: 0...input.count, using: &generator)
                    input.insert(UInt8.random(in: .min ... .max, using: &generator), at: position)
                default:
                    input += [UInt8](repeating: 0, count: Int.random(in: 1...8, using: &generator))
                }
            }
            inputs.append(input)
        }
        return inputs
    }

    @Test func binaryHTTPNeverTraps() throws {
        let seeds = [
            try hex(BinaryHTTPTests.figure8), try hex(BinaryHTTPTests.figure9),
            try BinaryHTTPResponse(status: 200, headerFields: [.init(name: "a", value: "b")], content: [1]).encoded(),
        ]
        for input in Self.inputs(seeds: seeds, count: 4_000) {
            EnvelopeFuzz.bhttpRequest(input)
        }
    }

    @Test func ohttpRequestNeverTraps() throws {
        let seed = try hex(
            """
            010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b4726374e469135906992e1268c594\
            d2a10c695d858c40a026e7965e7d86b83dd440b2c0185204b4d63525
            """
        )
        for input in Self.inputs(seeds: [seed], count: 3_000) {
            EnvelopeFuzz.ohttpRequest(input)
        }
    }

    @Test func keyConfigsNeverTrap() throws {
        let seed = try hex(
            "002d01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003"
        )
        for input in Self.inputs(seeds: [seed, Array(seed.dropFirst(2))], count: 4_000) {
            EnvelopeFuzz.keyConfigs(input)
        }
    }
}
