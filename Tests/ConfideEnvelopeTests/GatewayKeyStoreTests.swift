import ConfideEnvelope
import ConfideTestSupport
import Testing

struct GatewayKeyStoreTests {
    @Test func rotationKeepsThePreviousKeyForTheGracePeriod() throws {
        let clock = ManualClock()
        let store = try GatewayKeyStore(gracePeriod: .seconds(600), now: clock.now)
        let gateway = OHTTPGateway(keyStore: store)
        let old = store.currentConfiguration
        let oldRequest = try OHTTPClientRequest(sealing: [0], for: old).encapsulatedRequest

        let new = store.rotate()
        #expect(new.keyID == old.keyID &+ 1)
        #expect(new.publicKey != old.publicKey)
        #expect(store.currentConfiguration == new)
        #expect(try OHTTPKeyConfiguration.decodeList(try store.encodedConfigurations()) == [new])
        #expect(store.acceptedKeyIDs == [new.keyID, old.keyID])

        clock.advance(by: .seconds(599))
        #expect(try gateway.decapsulateRequest(oldRequest).binaryRequest == [0])
        let newRequest = try OHTTPClientRequest(sealing: [1], for: new).encapsulatedRequest
        #expect(try gateway.decapsulateRequest(newRequest).binaryRequest == [1])

        clock.advance(by: .seconds(1))
        let error = #expect(throws: EnvelopeError.self) { try gateway.decapsulateRequest(oldRequest) }
        #expect(error?.code == .unknownKeyID)
        #expect(store.acceptedKeyIDs == [new.keyID])
        #expect(try gateway.decapsulateRequest(newRequest).binaryRequest == [1])
    }

    @Test func keyIdentifiersStayUniqueAcrossManyRotations() throws {
        let store = try GatewayKeyStore(gracePeriod: .seconds(3600), now: ManualClock().now)
        for _ in 0..<300 {
            store.rotate()
        }
        let accepted = store.acceptedKeyIDs
        #expect(accepted.count == 256)
        #expect(Set(accepted).count == 256)
        #expect(throws: Never.self) { try store.key(for: store.currentConfiguration.keyID) }
    }

    @Test func importedKeysAreValidated() throws {
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) {
            try GatewayKey(rawPrivateKey: [1, 2, 3], keyID: 0, suites: GatewayKeyStore.defaultSuites)
        }
        let raw = [UInt8](repeating: 7, count: 32)
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) {
            try GatewayKey(rawPrivateKey: raw, keyID: 0, suites: [])
        }
        #expect(throws: EnvelopeError.invalidArgument(reason: "")) {
            let unknown = SymmetricSuite(kdf: .hkdfSHA256, aead: AEADIdentifier(rawValue: 9))
            return try GatewayKey(rawPrivateKey: raw, keyID: 0, suites: [unknown])
        }
        let key = try GatewayKey(rawPrivateKey: raw, keyID: 42, suites: GatewayKeyStore.defaultSuites)
        let store = try GatewayKeyStore(currentKey: key)
        #expect(store.currentConfiguration.keyID == 42)
        #expect(store.rotate().symmetricSuites == GatewayKeyStore.defaultSuites)
    }
}

struct KeyConfigurationTests {
    private static let configuration = OHTTPKeyConfiguration(
        keyID: 7,
        kem: .x25519HKDFSHA256,
        publicKey: [UInt8](repeating: 0xab, count: 32),
        symmetricSuites: [.hkdfSHA256AES128GCM, SymmetricSuite(kdf: KDFIdentifier(rawValue: 9), aead: .aes256GCM)]
    )

    @Test func roundTripsAndSkipsUnknownKEMs() throws {
        let encoded = try Self.configuration.encoded()
        #expect(try OHTTPKeyConfiguration(decoding: encoded) == Self.configuration)
        let unknownKEM: [UInt8] = [9, 0x00, 0x10, 1, 2, 3]
        let known = try OHTTPKeyConfiguration.encodeList([Self.configuration])
        let list = [0, UInt8(unknownKEM.count)] + unknownKEM + known
        #expect(try OHTTPKeyConfiguration.decodeList(list) == [Self.configuration])
        #expect(try OHTTPKeyConfiguration.decodeList([]) == [])
    }

    @Test func rejectsMalformedConfigurations() throws {
        let encoded = try Self.configuration.encoded()
        let malformed: [[UInt8]] = [
            Array(encoded.dropLast()),
            encoded + [0],
            Array(encoded.prefix(35)) + [0, 0],
            Array(encoded.prefix(35)) + [0, 6, 0, 1, 0, 1, 0, 1],
            [7],
        ]
        for bytes in malformed {
            let error = #expect(throws: EnvelopeError.self) { try OHTTPKeyConfiguration(decoding: bytes) }
            #expect(error?.code == .malformedKeyConfiguration)
        }
        let lists: [[UInt8]] = [[0], [0, 50] + encoded, [0, UInt8(encoded.count - 1)] + encoded.dropLast()]
        for bytes in lists {
            let error = #expect(throws: EnvelopeError.self) { try OHTTPKeyConfiguration.decodeList(bytes) }
            #expect(error?.code == .malformedKeyConfiguration)
        }
        let error = #expect(throws: EnvelopeError.self) {
            try OHTTPKeyConfiguration(decoding: [1, 0x00, 0x10, 0, 0])
        }
        #expect(error?.code == .unsupportedSuite)
    }
}
