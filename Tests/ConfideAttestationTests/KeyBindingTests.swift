import ConfideAttestation
import Testing

struct KeyBindingTests {
    static let log = [UInt8](repeating: 0x11, count: 48)

    /// The expected value was computed with Python's hashlib over the documented framing.
    @Test func bindingMatchesAnIndependentSHA512() throws {
        let binding = try reportData(
            keyConfigurations: Array(0..<0x20), nonce: [UInt8](repeating: 0xAA, count: 16), measurementLog: Self.log)
        #expect(
            binding
                == hex(
                    "2681cd19bc8a9c4b2e113ca951c4ed9724a429d582f6d5001db72e61e31228d1"
                        + "e13cab71557a3a0fba096bbc74358f5597017652f505aba42d50c0091445eee5"
                )
        )
    }

    /// Without length framing, a caller choosing the nonce could move bytes between the key list and the nonce:
    /// keys + extra with a nonce, against the honest keys with extra + nonce, must bind differently.
    @Test func bytesCannotMoveBetweenFields() throws {
        let keys: [UInt8] = Array(0..<41)
        let extra = [UInt8](repeating: 0x43, count: 43)
        let nonce = [UInt8](repeating: 0x5A, count: 16)
        let shifted = try reportData(keyConfigurations: keys + extra, nonce: nonce, measurementLog: Self.log)
        let honest = try reportData(keyConfigurations: keys, nonce: extra + nonce, measurementLog: Self.log)
        #expect(shifted != honest)
        let other = [UInt8](repeating: 0x12, count: 48)
        #expect(
            try reportData(keyConfigurations: keys, nonce: nonce, measurementLog: other)
                != reportData(keyConfigurations: keys, nonce: nonce, measurementLog: Self.log))
    }

    @Test(arguments: [0, 1, 15, 65, 1000])
    func nonceOutsideSixteenToSixtyFourBytesIsRefused(_ length: Int) {
        expectError(.invalidArgument) {
            _ = try reportData(
                keyConfigurations: [1], nonce: [UInt8](repeating: 0, count: length), measurementLog: Self.log)
        }
    }

    @Test func measurementLogDigestMustBe48Bytes() {
        expectError(.invalidArgument) {
            _ = try reportData(
                keyConfigurations: [1], nonce: [UInt8](repeating: 0, count: 16), measurementLog: [1, 2, 3])
        }
    }

    @Test(arguments: [16, 32, 64])
    func nonceInRangeIsAccepted(_ length: Int) throws {
        #expect(
            try reportData(
                keyConfigurations: [1], nonce: [UInt8](repeating: 0, count: length), measurementLog: Self.log
            ).count == 64)
    }
}
