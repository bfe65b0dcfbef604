import ConfideAttestation
import Foundation
import Testing

/// The client entry point: the simulated round trip, the key binding, and policy refusals.
struct VerifierPolicyTests {
    static let keyConfigurations: [UInt8] = Array(0..<41)
    static let nonce: [UInt8] = Array(100..<132)
    static let log = [UInt8](repeating: 0x11, count: 48)

    static func simulatedPolicy() throws -> AttestationPolicy {
        var policy = try AttestationPolicy(
            keyConfigurations: Self.keyConfigurations, nonce: Self.nonce, measurementLog: Self.log)
        policy.acceptSimulated = true
        policy.allowedSimulatedMeasurements = [SimulatedEvidenceProvider.defaultMeasurement]
        return policy
    }

    static func simulatedEvidence(nonce: [UInt8] = Self.nonce, keys: [UInt8] = Self.keyConfigurations) async throws
        -> Evidence
    {
        let provider = try SimulatedEvidenceProvider()
        return try await provider.evidence(
            reportData: try reportData(keyConfigurations: keys, nonce: nonce, measurementLog: Self.log))
    }

    @Test func simulatedEvidenceRoundTrips() async throws {
        let provider = try SimulatedEvidenceProvider()
        #expect(provider.isInsecure)
        let evidence = try await provider.evidence(
            reportData: try reportData(
                keyConfigurations: Self.keyConfigurations, nonce: Self.nonce, measurementLog: Self.log)
        )
        #expect(evidence.type == .simulated)
        let verified = try await AttestationVerifier.verify(evidence, policy: try Self.simulatedPolicy())
        #expect(verified.isSimulated)
        #expect(verified.measurement == SimulatedEvidenceProvider.defaultMeasurement)
        guard case .simulated(let claims) = verified.claims else {
            Issue.record("expected simulated claims")
            return
        }
        #expect(claims.publicKey == provider.publicKey)
    }

    @Test func simulatedEvidenceIsRefusedWithoutOptIn() async throws {
        var policy = try Self.simulatedPolicy()
        policy.acceptSimulated = false
        let evidence = try await Self.simulatedEvidence()
        await expectError(.simulatedEvidenceRefused) {
            _ = try await AttestationVerifier.verify(evidence, policy: policy)
        }
        #expect(
            try AttestationPolicy(keyConfigurations: [], nonce: Self.nonce, measurementLog: Self.log).acceptSimulated
                == false)
    }

    @Test func wrongNonceIsRefused() async throws {
        let evidence = try await Self.simulatedEvidence(nonce: Array(200..<232))
        await expectError(.reportDataMismatch) {
            _ = try await AttestationVerifier.verify(evidence, policy: try Self.simulatedPolicy())
        }
    }

    @Test func otherKeyConfigurationIsRefused() async throws {
        let evidence = try await Self.simulatedEvidence(keys: Array(1..<42))
        await expectError(.reportDataMismatch) {
            _ = try await AttestationVerifier.verify(evidence, policy: try Self.simulatedPolicy())
        }
    }

    @Test func unknownSimulatedMeasurementIsRefused() async throws {
        var policy = try Self.simulatedPolicy()
        policy.allowedSimulatedMeasurements = [[UInt8](repeating: 1, count: 48)]
        let evidence = try await Self.simulatedEvidence()
        await expectError(.measurementNotAllowed) { _ = try await AttestationVerifier.verify(evidence, policy: policy) }
    }

    @Test func tamperedSimulatedEvidenceIsRefused() async throws {
        let evidence = try await Self.simulatedEvidence()
        for offset in 12..<SimulatedEvidence.size {
            var bytes = evidence.bytes
            bytes[offset] ^= 0x01
            let error = await #expect(throws: AttestationError.self) {
                _ = try await AttestationVerifier.verify(
                    evidence: bytes,
                    type: .simulated,
                    policy: try Self.simulatedPolicy()
                )
            }
            #expect(error?.code == .invalidSignature || error?.code == .invalidKey, "offset \(offset)")
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func realTDXQuotePassesAPolicyNamingItsValues() async throws {
        let bytes = try Fixtures.bytes("tdx-quote-v4-b.bin")
        let quote = try TDXQuote(bytes: bytes)
        var policy = AttestationPolicy(expectedReportData: quote.body.reportData)
        policy.allowedTDX = [TDXReferenceValues(mrTD: quote.body.mrTD, rtmr0: quote.body.rtmrs[0])]
        await expectError(.missingCollateral) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .tdxQuote, policy: policy)
        }
        policy.allowMissingTDXCollateral = true
        let verified = try await AttestationVerifier.verify(evidence: bytes, type: .tdxQuote, policy: policy)
        #expect(verified.measurement == quote.body.mrTD)
        #expect(!verified.isSimulated)

        var spr = AttestationPolicy(expectedReportData: [])
        spr.allowMissingTDXCollateral = true
        await expectError(.guestPolicyNotAllowed) {  // its TD attributes lack SEPT_VE_DISABLE
            _ = try await AttestationVerifier.verify(
                evidence: try Fixtures.bytes("tdx-quote-v4-spr.bin"), type: .tdxQuote, policy: spr)
        }

        policy.allowedTDX = [TDXReferenceValues(mrTD: quote.body.mrTD, rtmr3: [UInt8](repeating: 9, count: 48))]
        await expectError(.measurementNotAllowed) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .tdxQuote, policy: policy)
        }
        policy.allowedTDX = [TDXReferenceValues(mrTD: [UInt8](repeating: 0, count: 48))]
        await expectError(.measurementNotAllowed) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .tdxQuote, policy: policy)
        }
        policy.allowedTDX = [TDXReferenceValues(mrTD: quote.body.mrTD)]
        policy.expectedReportData = try reportData(
            keyConfigurations: Self.keyConfigurations, nonce: Self.nonce, measurementLog: Self.log)
        await expectError(.reportDataMismatch) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .tdxQuote, policy: policy)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func realSNPReportPassesAPolicyNamingItsMeasurement() async throws {
        let bytes = try Fixtures.hexFile("snp-report-milan.hex")
        let report = try SNPReport(bytes: bytes)
        var policy = AttestationPolicy(expectedReportData: report.reportData)
        await expectError(.missingCollateral) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .snpReport, policy: policy)
        }
        policy.snpVCEK = try Fixtures.bytes("snp-vcek-milan.der")
        await expectError(.measurementNotAllowed) {
            _ = try await AttestationVerifier.verify(evidence: bytes, type: .snpReport, policy: policy)
        }
        policy.allowedSNPMeasurements = [report.measurement]
        let verified = try await AttestationVerifier.verify(evidence: bytes, type: .snpReport, policy: policy)
        #expect(verified.reportData == report.reportData)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.skipMessage))
    func evidenceOfOneTypeIsNotAcceptedAsAnother() async throws {
        let quote = try Fixtures.bytes("tdx-quote-v4-spr.bin")
        var policy = try Self.simulatedPolicy()
        policy.allowedSNPMeasurements = [[UInt8](repeating: 0, count: 48)]
        policy.snpVCEK = try Fixtures.bytes("snp-vcek-milan.der")
        await expectError(.oversized) {
            _ = try await AttestationVerifier.verify(evidence: quote, type: .snpReport, policy: policy)
        }
        await expectError(.malformed) {
            _ = try await AttestationVerifier.verify(
                evidence: Array(quote.prefix(SimulatedEvidence.size)),
                type: .simulated,
                policy: policy
            )
        }
    }
}
