import ArgumentParser
import ConfideEnvelope
import Crypto
import Foundation

/// `confide bench envelope`: what Oblivious HTTP costs per request, in microseconds, for each suite.
struct BenchEnvelope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "envelope",
        abstract: "Measure the cost of encapsulating and decapsulating requests and responses per suite.")

    @Option(help: "Requests per suite.")
    var iterations = 2000

    @Option(help: "The inner request's body size in bytes (the response echoes it).")
    var bodySize = 128

    func run() throws {
        guard iterations > 0, bodySize >= 0 else {
            throw ValidationError("--iterations and --body-size must be positive")
        }
        let body = [UInt8](repeating: 0x61, count: bodySize)
        let inner = try BinaryHTTPRequest(
            method: "POST", authority: "127.0.0.1:8080", path: "/v2/models/echo/infer",
            headerFields: [BinaryHTTPField(name: "content-type", value: "application/json")], content: body
        ).encoded()
        let innerResponse = try BinaryHTTPResponse(status: 200, content: body).encoded()
        print(
            "inner request \(inner.count) bytes, inner response \(innerResponse.count) bytes, \(iterations) requests per suite"
        )
        print("suite                      client seal  gateway open  gateway seal  client open   total (µs)")
        for suite in SymmetricSuite.allImplemented {
            let store = try GatewayKeyStore(suites: [suite])
            let gateway = OHTTPGateway(keyStore: store)
            let configuration = store.currentConfiguration
            var times = [Duration](repeating: .zero, count: 4)
            let clock = ContinuousClock()
            for _ in 0..<iterations {
                var start = clock.now
                let request = try OHTTPClientRequest(sealing: inner, for: configuration, suite: suite)
                times[0] += clock.now - start
                start = clock.now
                let opened = try gateway.decapsulateRequest(request.encapsulatedRequest)
                times[1] += clock.now - start
                start = clock.now
                let response = try opened.encapsulateResponse(innerResponse)
                times[2] += clock.now - start
                start = clock.now
                let plain = try request.openResponse(response)
                times[3] += clock.now - start
                guard opened.binaryRequest == inner, plain == innerResponse else {
                    throw ValidationError("round trip failed")
                }
            }
            let micro = times.map { $0 / iterations }.map {
                Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6
            }
            let columns = (micro + [micro.reduce(0, +)]).map { String(format: "%13.1f", $0) }.joined()
            print(suiteName(suite).padding(toLength: 26, withPad: " ", startingAt: 0) + columns)
        }
    }

    private func suiteName(_ suite: SymmetricSuite) -> String {
        switch suite {
        case .hkdfSHA256AES128GCM: "X25519 HKDF AES-128-GCM"
        case .hkdfSHA256AES256GCM: "X25519 HKDF AES-256-GCM"
        case .hkdfSHA256ChaCha20Poly1305: "X25519 HKDF ChaCha20"
        default: "\(suite)"
        }
    }
}
