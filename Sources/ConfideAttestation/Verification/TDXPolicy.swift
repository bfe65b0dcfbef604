import X509

extension TDXQuoteVerifier {
    /// Verifies `quote` with the collateral the policy brings, or else the one served with it, and applies the
    /// policy (``check(_:of:against:)``).
    ///
    /// Measurements and the report data are not checked here (``AttestationVerifier`` does).
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func verify(_ quote: TDXQuote, endorsements: Endorsements, policy: AttestationPolicy)
        async throws(AttestationError) -> TDXVerification
    {
        let verification = try await Self.evaluate(quote, endorsements: endorsements, policy: policy)
        try Self.check(verification, of: quote, against: policy)
        return verification
    }

    /// Runs every check of ``verify(_:collateral:at:)`` on `quote` with the collateral, root and time the policy
    /// brings (or else the collateral served with the quote), and returns what they established, whatever the TCB
    /// status; a missing collateral is refused unless the policy allows it.
    ///
    /// - Throws: ``AttestationError`` naming the first check that failed.
    public static func evaluate(_ quote: TDXQuote, endorsements: Endorsements, policy: AttestationPolicy)
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
        return try await Self.verify(quote, collateral: collateral, at: policy.validationTime, root: root)
    }

    /// Applies the policy to a verification of `quote`, in dcap-qvl's order: a ``TCBStatus/revoked`` status is
    /// refused, then the TD's attributes are checked (``checkTDAttributes(_:acceptDebug:)``), then a status outside
    /// ``AttestationPolicy/acceptedTCBStatuses`` and an evaluation data number below the policy's minimum are
    /// refused.
    ///
    /// - Throws: ``AttestationError`` naming the first check that failed; a refused status is named in Intel's
    ///   spelling with its advisories.
    public static func check(_ verification: TDXVerification, of quote: TDXQuote, against policy: AttestationPolicy)
        throws(AttestationError)
    {
        let tcb = verification.tcb
        let ids = tcb?.advisoryIDs ?? []
        let advisories = ids.isEmpty ? "" : " (advisories \(ids.joined(separator: ", ")))"
        if let tcb, tcb.status == .revoked {
            throw AttestationError(.revoked, "the platform's TCB status is Revoked\(advisories)")
        }
        try Self.checkTDAttributes(quote.body, acceptDebug: policy.acceptDebug)
        guard let tcb else {
            return
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
    }
}
