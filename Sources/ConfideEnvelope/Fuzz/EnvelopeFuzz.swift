/// Entry points for fuzzers: each parses arbitrary bytes and must never trap.
///
/// Where a parse succeeds, the entry point re-encodes and re-parses the result, so that a fuzzer also finds
/// encodings that do not round-trip (reported by a failed precondition, which is a bug).
public enum EnvelopeFuzz {
    /// The RFC 9458 Appendix A gateway key (public test data), offering every implemented suite.
    private static let gateway: OHTTPGateway? = {
        let secret: [UInt8] = [
            0x3c, 0x16, 0x89, 0x75, 0x67, 0x4b, 0x2f, 0xa8, 0xe4, 0x65, 0x97, 0x0b, 0x79, 0xc8, 0xdc, 0xf0,
            0x9f, 0x1c, 0x74, 0x16, 0x26, 0x48, 0x0b, 0xd4, 0xc6, 0x16, 0x2f, 0xc5, 0xb6, 0xa9, 0x8e, 0x1a,
        ]
        guard let key = try? GatewayKey(rawPrivateKey: secret, keyID: 1, suites: SymmetricSuite.allImplemented),
            let store = try? GatewayKeyStore(currentKey: key)
        else {
            return nil
        }
        return OHTTPGateway(keyStore: store)
    }()

    /// Decodes `bytes` as a binary HTTP request and as a response.
    public static func bhttpRequest(_ bytes: [UInt8]) {
        if let request = try? BinaryHTTPRequest(decoding: bytes), let encoded = try? request.encoded() {
            precondition((try? BinaryHTTPRequest(decoding: encoded)) == request, "request did not round-trip")
        }
        if let response = try? BinaryHTTPResponse(decoding: bytes), let encoded = try? response.encoded() {
            precondition((try? BinaryHTTPResponse(decoding: encoded)) == response, "response did not round-trip")
        }
    }

    /// Decapsulates `bytes` as an encapsulated request to the fixed test key, then decodes the inner request.
    public static func ohttpRequest(_ bytes: [UInt8]) {
        guard let gateway, let request = try? gateway.decapsulateRequest(bytes) else {
            return
        }
        bhttpRequest(request.binaryRequest)
        _ = try? request.encapsulateResponse(request.binaryRequest)
    }

    /// Decodes `bytes` as an `application/ohttp-keys` list and as a single key configuration.
    public static func keyConfigs(_ bytes: [UInt8]) {
        if let list = try? OHTTPKeyConfiguration.decodeList(bytes),
            let encoded = try? OHTTPKeyConfiguration.encodeList(list)
        {
            precondition((try? OHTTPKeyConfiguration.decodeList(encoded)) == list, "key list did not round-trip")
        }
        if let single = try? OHTTPKeyConfiguration(decoding: bytes) {
            precondition((try? single.encoded()) == bytes, "key configuration did not round-trip")
        }
    }
}
