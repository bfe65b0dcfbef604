import ConfideJSON
import ConfideMeasurement

/// The client-side entry point: verifies evidence of any type against an ``AttestationPolicy``.
public enum AttestationVerifier {
    /// Verifies evidence and returns its claims.
    ///
    /// Checks, in order: that the type is acceptable (simulated only with ``AttestationPolicy/acceptSimulated``), the
    /// structure, the signatures and certificate chain, the debug state, the measurements, and the report data.
    /// - Parameters:
    ///   - evidence: The serialized evidence.
    ///   - type: What kind of evidence it claims to be.
    ///   - endorsements: The collateral and certificates that came with the evidence.
    ///   - policy: What the caller accepts.
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func verify(
        evidence: [UInt8],
        type: EvidenceType,
        endorsements: Endorsements = Endorsements(),
        policy: AttestationPolicy
    ) async throws(AttestationError) -> VerifiedEvidence {
        let verified: VerifiedEvidence
        switch type {
        case .tdxQuote:
            verified = try await Self.verifyTDX(evidence, endorsements: endorsements, policy: policy)
        case .snpReport:
            verified = try Self.verifySNP(evidence, certificates: endorsements.snpCertificates, policy: policy)
        case .simulated:
            verified = try Self.verifySimulated(evidence, policy: policy)
        }
        guard verified.reportData == policy.expectedReportData else {
            throw AttestationError(
                .reportDataMismatch,
                "report data \(Hex.encode(verified.reportData)) does not bind the expected key configuration and nonce"
            )
        }
        return verified
    }

    /// Verifies ``Evidence`` as produced by an ``EvidenceProvider``.
    public static func verify(_ evidence: Evidence, policy: AttestationPolicy) async throws(AttestationError)
        -> VerifiedEvidence
    {
        try await Self.verify(
            evidence: evidence.bytes, type: evidence.type, endorsements: evidence.endorsements, policy: policy)
    }

    private static func verifyTDX(_ bytes: [UInt8], endorsements: Endorsements, policy: AttestationPolicy)
        async throws(AttestationError) -> VerifiedEvidence
    {
        let quote = try TDXQuote(bytes: bytes)
        let verification = try await TDXQuoteVerifier.verify(quote, endorsements: endorsements, policy: policy)
        guard policy.allowedTDX.contains(where: { $0.matches(quote.body) }) else {
            throw AttestationError(
                .measurementNotAllowed,
                "MRTD \(Hex.encode(quote.body.mrTD)) and RTMRs are not allowed"
            )
        }
        return VerifiedEvidence(
            type: .tdxQuote,
            measurement: quote.body.mrTD,
            reportData: quote.body.reportData,
            claims: .tdx(quote),
            tdx: verification
        )
    }

    private static func verifySNP(
        _ bytes: [UInt8],
        certificates served: [UInt8]?,
        policy: AttestationPolicy
    ) throws(AttestationError) -> VerifiedEvidence {
        let report = try SNPReport(bytes: bytes)
        guard let certificates = policy.snpVCEK ?? served else {
            throw AttestationError(
                .missingCollateral,
                "no VCEK or VLEK certificate came with the SEV-SNP report, and the policy brings none"
            )
        }
        try SNPReportVerifier.verify(report, certificates: certificates, policy: policy)
        guard policy.allowedSNPMeasurements.contains(report.measurement) else {
            throw AttestationError(
                .measurementNotAllowed,
                "MEASUREMENT \(Hex.encode(report.measurement)) is not allowed"
            )
        }
        return VerifiedEvidence(
            type: .snpReport,
            measurement: report.measurement,
            reportData: report.reportData,
            claims: .snp(report)
        )
    }

    private static func verifySimulated(_ bytes: [UInt8], policy: AttestationPolicy) throws(AttestationError)
        -> VerifiedEvidence
    {
        guard policy.acceptSimulated else {
            throw AttestationError(
                .simulatedEvidenceRefused,
                "simulated evidence is insecure and the policy does not accept it"
            )
        }
        let evidence = try SimulatedEvidence(bytes: bytes)
        try evidence.verifySignature()
        guard policy.allowedSimulatedMeasurements.contains(evidence.measurement) else {
            throw AttestationError(
                .measurementNotAllowed,
                "simulated measurement \(Hex.encode(evidence.measurement)) is not allowed"
            )
        }
        return VerifiedEvidence(
            type: .simulated,
            measurement: evidence.measurement,
            reportData: evidence.reportData,
            claims: .simulated(evidence)
        )
    }
}
