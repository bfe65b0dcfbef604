import X509

extension TDXQuoteVerifier {
    /// Verifies `quote` with the collateral the policy brings, or else the one served with it, and applies the
    /// policy's TCB rules: a missing collateral, a status outside ``AttestationPolicy/acceptedTCBStatuses`` (and
    /// always ``TCBStatus/revoked``) and an evaluation data number below the policy's minimum are refused.
    ///
    /// Measurements, the debug attribute and the report data are not checked here (``AttestationVerifier`` does).
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func verify(_ quote: TDXQuote, endorsements: Endorsements, policy: AttestationPolicy)
        async throws(AttestationError) -> TDXVerification
    {
        var collateral: TDXCollateral?
        if let bytes = policy.tdxCollateral ?? endorsements.tdxCollateral {
            collateral = try TDXCollateral(json: bytes)
        } else if !policy.allowMissingTDXCollateral {
            throw AttestationError(
                .missingCollateral,
                "the TDX quote came without Intel's collateral (TCB Info, QE Identity, CRLs), so its TCB status and "
                    + "revocation cannot be checked; give collateral or allow missing collateral")
        }
        let root: Certificate
        if let override = policy.tdxRootOverride {
            root = override
        } else {
            root = try IntelSGXRootCA.certificate()
        }
        let verification = try await Self.verify(quote, collateral: collateral, at: policy.validationTime, root: root)
        guard let tcb = verification.tcb else {
            return verification
        }
        let advisories = tcb.advisoryIDs.isEmpty ? "" : " (advisories \(tcb.advisoryIDs.joined(separator: ", ")))"
        guard tcb.status != .revoked else {
            throw AttestationError(.revoked, "the platform's TCB status is Revoked\(advisories)")
        }
        guard policy.acceptedTCBStatuses.contains(tcb.status) else {
            let accepted = TCBStatus.allCases.filter(policy.acceptedTCBStatuses.contains).map(\.rawValue)
            throw AttestationError(
                .tcbStatusNotAccepted,
                "the platform's TCB status is \(tcb.status)\(advisories); the policy accepts "
                    + (accepted.isEmpty ? "none" : accepted.joined(separator: ", ")))
        }
        if let minimum = policy.minimumTCBEvaluationDataNumber {
            let number = min(tcb.tcbEvaluationDataNumber, verification.qeIdentity.tcbEvaluationDataNumber ?? Int.max)
            guard number >= minimum else {
                throw AttestationError(
                    .tcbStatusNotAccepted,
                    "the collateral's TCB evaluation data number is \(number), the policy asks at least \(minimum)")
            }
        }
        return verification
    }
}
