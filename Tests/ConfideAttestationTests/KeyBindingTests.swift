import ConfideAttestation
import Testing

struct KeyBindingTests {
    @Test func bindingMatchesAnIndependentSHA512() throws {
        let binding = try reportData(
            keyConfigurations: Array(0..<0x20),
            nonce: [UInt8](repeating: 0xAA, count: 16)
        )
        #expect(
            binding
                == hex(
                    "7623ad6bdc4a8c0272975efe4307c0948a44540067c1b48936a3c48ff64a2846"
                        + "3bf105aafe88c852014eb460c25a55c2a9e9ca649cf6e444ce2ee06f7c4d2385"
                )
        )
    }

    @Test(arguments: [0, 1, 15, 65, 1000])
    func nonceOutsideSixteenToSixtyFourBytesIsRefused(_ length: Int) {
        expectError(.invalidArgument) {
            _ = try reportData(keyConfigurations: [1], nonce: [UInt8](repeating: 0, count: length))
        }
    }

    @Test(arguments: [16, 32, 64])
    func nonceInRangeIsAccepted(_ length: Int) throws {
        #expect(try reportData(keyConfigurations: [1], nonce: [UInt8](repeating: 0, count: length)).count == 64)
    }
}
