import ConfideAttestation
import Foundation
import Testing
import X509

/// TCB status and revocation from Intel's collateral: the shared pairs, and every status and refusal through
/// collateral derived from them and re-signed by a test root.
@Suite(.enabled(if: Fixtures.available, Fixtures.skipMessage))
struct TDXCollateralTests {
    /// A policy for a shared quote that accepts its MRTD and report data and brings its shared collateral.
    static func sharedPolicy(_ file: String, at time: Date) throws -> (bytes: [UInt8], policy: AttestationPolicy) {
        let bytes = try Fixtures.bytes(file + ".bin")
        let quote = try TDXQuote(bytes: bytes)
        var policy = AttestationPolicy(expectedReportData: quote.body.reportData)
        policy.allowedTDX = [TDXReferenceValues(mrTD: quote.body.mrTD)]
        policy.validationTime = time
        policy.tdxCollateral = try Fixtures.bytes(file + ".collateral.json")
        return (bytes, policy)
    }

    static func verify(_ bytes: [UInt8], _ policy: AttestationPolicy, endorsements: Endorsements = Endorsements())
        async throws -> VerifiedEvidence
    {
        try await AttestationVerifier.verify(
            evidence: bytes, type: .tdxQuote, endorsements: endorsements, policy: policy)
    }

    /// Expects `body` to be refused with `code` and a message containing `reason`.
    static func expectRefusal(
        _ code: AttestationError.ErrorCode, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async {
        let error = await #expect(throws: AttestationError.self, sourceLocation: sourceLocation) { try await body() }
        #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    // MARK: The shared pairs

    @Test func sharedQuoteWithItsCollateralIsUpToDate() async throws {
        let (bytes, policy) = try Self.sharedPolicy("tdx-quote-v4-b", at: TestCollateral.time)
        let verified = try await Self.verify(bytes, policy)
        let tdx = try #require(verified.tdx)
        let tcb = try #require(tdx.tcb)
        #expect(tcb.status == .upToDate)
        #expect(tcb.platformStatus == .upToDate)
        #expect(tcb.tdxModuleStatus == .upToDate)
        #expect(tcb.advisoryIDs.isEmpty)
        #expect(tcb.tcbEvaluationDataNumber == 17)
        #expect(tcb.fmspc == hex("b0c06f000000"))
        #expect(tcb.platformTCBDate == Date(timeIntervalSince1970: 1_710_288_000))  // 2024-03-13
        #expect(tdx.qeIdentity.source == .collateral)
        #expect(tdx.qeIdentity.status == .upToDate)
        #expect(tdx.qeIdentity.tcbEvaluationDataNumber == 17)
        #expect(tdx.pckChain.count == 3)
        #expect(tdx.pckChain.last?.contains("Intel SGX Root CA") == true)
        #expect(tdx.collateralChecks.count == 4)
        #expect(tdx.collateralChecks.first?.contains("Intel SGX TCB Signing") == true)
    }

    @Test func servedCollateralIsUsedAndThePolicysOwnWins() async throws {
        var (bytes, policy) = try Self.sharedPolicy("tdx-quote-v4-b", at: TestCollateral.time)
        let collateral = try #require(policy.tdxCollateral)
        policy.tdxCollateral = nil
        let served = try await Self.verify(bytes, policy, endorsements: Endorsements(tdxCollateral: collateral))
        #expect(served.tdx?.tcb?.status == .upToDate)
        policy.tdxCollateral = collateral
        let own = try await Self.verify(bytes, policy, endorsements: Endorsements(tdxCollateral: Array("{}".utf8)))
        #expect(own.tdx?.tcb?.status == .upToDate)
    }

    @Test func theOutdatedSharedQuoteMatchesNoTCBLevel() async throws {
        let (bytes, policy) = try Self.sharedPolicy(
            "tdx-quote-v4-outdated", at: Date(timeIntervalSince1970: 1_772_323_200))  // 2026-03-01
        await Self.expectRefusal(
            .noMatchingTCBLevel, "no TCB level of FMSPC 90c06f000000 matches the platform (SGX components 3,3,2,2"
        ) {
            _ = try await Self.verify(bytes, policy)
        }
    }

    @Test func missingCollateralIsRefusedUnlessAllowed() async throws {
        var (bytes, policy) = try Self.sharedPolicy("tdx-quote-v4-b", at: TestCollateral.time)
        policy.tdxCollateral = nil
        await Self.expectRefusal(.missingCollateral, "without Intel's collateral") {
            _ = try await Self.verify(bytes, policy)
        }
        policy.allowMissingTDXCollateral = true
        let verified = try await Self.verify(bytes, policy)
        #expect(verified.tdx?.tcb == nil)
        #expect(verified.tdx?.qeIdentity.source == .fixedValues)
        #expect(verified.tdx?.qeIdentity.status == nil)
    }

    @Test func sharedCollateralAfterItsNextUpdateIsRefused() async throws {
        let (bytes, policy) = try Self.sharedPolicy(
            "tdx-quote-v4-b", at: Date(timeIntervalSince1970: 1_753_920_000))  // 2025-07-31
        await Self.expectRefusal(.expired, "the TCB Info expired at its nextUpdate 2025-07-19T10:16:03Z") {
            _ = try await Self.verify(bytes, policy)
        }
        let (_, early) = try Self.sharedPolicy("tdx-quote-v4-b", at: Date(timeIntervalSince1970: 1_750_291_200))
        await Self.expectRefusal(.expired, "the TCB Info is issued at 2025-06-19T10:16:03Z") {  // 2025-06-19T00:00Z
            _ = try await Self.verify(bytes, early)
        }
    }

    @Test func aChangedByteOfTheSharedTCBInfoBreaksItsSignature() async throws {
        var (bytes, policy) = try Self.sharedPolicy("tdx-quote-v4-b", at: TestCollateral.time)
        var collateral = try TestCollateral.sharedCollateral()
        collateral["tcb_info"] = collateral["tcb_info"]?.replacingOccurrences(
            of: "\"tcbEvaluationDataNumber\":17", with: "\"tcbEvaluationDataNumber\":19")
        policy.tdxCollateral = Array(try JSONSerialization.data(withJSONObject: collateral))
        await Self.expectRefusal(.invalidSignature, "the TCB Info's signature does not verify") {
            _ = try await Self.verify(bytes, policy)
        }
    }

    @Test func theMinimumTCBEvaluationDataNumberIsEnforced() async throws {
        var (bytes, policy) = try Self.sharedPolicy("tdx-quote-v4-b", at: TestCollateral.time)
        policy.minimumTCBEvaluationDataNumber = 17
        _ = try await Self.verify(bytes, policy)
        policy.minimumTCBEvaluationDataNumber = 18
        await Self.expectRefusal(.tcbStatusNotAccepted, "evaluation data number is 17, the policy asks at least 18") {
            _ = try await Self.verify(bytes, policy)
        }
    }

    @Test func sharedCollateralDoesNotLeadToAnotherPinnedRoot() async throws {
        var (bytes, policy) = try Self.sharedPolicy("tdx-quote-v4-b", at: TestCollateral.time)
        policy.tdxRootOverride = try TestCollateral().root
        // The collateral is checked before the PCK chain, as dcap-qvl checks it.
        await Self.expectRefusal(.untrustedCertificateChain, "root CA CRL is issued by") {
            _ = try await Self.verify(bytes, policy)
        }
        policy.tdxCollateral = nil
        policy.allowMissingTDXCollateral = true
        await Self.expectRefusal(.untrustedCertificateChain, "PCK chain") {
            _ = try await Self.verify(bytes, policy)
        }
    }

    // MARK: Every status, through re-signed collateral

    @Test(arguments: TCBStatus.allCases)
    func everyPlatformStatusIsReported(_ status: TCBStatus) async throws {
        var test = try TestCollateral()
        try test.changeTCBLevel(0) {
            $0["tcbStatus"] = status.rawValue
            $0["advisoryIDs"] = status == .upToDate ? [] : ["INTEL-SA-00001", "INTEL-SA-00002"]
        }
        var policy = test.policy(try test.json())
        if status == .revoked {
            policy.acceptedTCBStatuses = Set(TCBStatus.allCases)
            await Self.expectRefusal(.revoked, "TCB status is Revoked (advisories INTEL-SA-00001, INTEL-SA-00002)") {
                _ = try await test.verify(policy)
            }
            return
        }
        if status != .upToDate {
            await Self.expectRefusal(.tcbStatusNotAccepted, "TCB status is \(status.rawValue)") {
                _ = try await test.verify(policy)
            }
        }
        policy.acceptedTCBStatuses = [status]
        let tcb = try #require(try await test.verify(policy).tdx?.tcb)
        #expect(tcb.status == status)
        #expect(tcb.platformStatus == status)
        #expect(tcb.advisoryIDs == (status == .upToDate ? [] : ["INTEL-SA-00001", "INTEL-SA-00002"]))
    }

    @Test func theModuleAndQuotingEnclaveStatusesConvergeWithThePlatforms() async throws {
        var test = try TestCollateral()
        try test.changeTCBLevel(0) {
            $0["tcbStatus"] = "ConfigurationNeeded"
            $0["advisoryIDs"] = ["INTEL-SA-00010"]
        }
        // TEE_TCB_SVN of the quote is 06 01 ...: module TDX_01 at SVN 6, now below the UpToDate level 7.
        try test.setModuleLevels(
            "TDX_01", [(7, "UpToDate", []), (6, "OutOfDate", ["INTEL-SA-00020", "INTEL-SA-00010", "INTEL-SA-00020"])])
        test.setQELevels([(200, "UpToDate", []), (0, "OutOfDate", ["INTEL-SA-00030"])])
        var policy = test.policy(try test.json())
        await Self.expectRefusal(.tcbStatusNotAccepted, "TCB status is OutOfDate (advisories INTEL-SA-00010") {
            _ = try await test.verify(policy)
        }
        policy.acceptedTCBStatuses = [.outOfDate]
        let tdx = try #require(try await test.verify(policy).tdx)
        let tcb = try #require(tdx.tcb)
        #expect(tcb.status == .outOfDate)
        #expect(tcb.platformStatus == .configurationNeeded)
        #expect(tcb.tdxModuleStatus == .outOfDate)
        #expect(tcb.advisoryIDs == ["INTEL-SA-00010", "INTEL-SA-00020", "INTEL-SA-00030"])
        #expect(tdx.qeIdentity.status == .outOfDate)
        #expect(tdx.qeIdentity.advisoryIDs == ["INTEL-SA-00030"])
    }

    /// As dcap-qvl merges them: the more severe status wins, so ConfigurationNeeded and OutOfDate give OutOfDate.
    @Test func statusesConvergeToTheMoreSevere() {
        #expect(TCBStatus.upToDate.converged(with: .outOfDate) == .outOfDate)
        #expect(TCBStatus.upToDate.converged(with: .swHardeningNeeded) == .swHardeningNeeded)
        #expect(TCBStatus.configurationNeeded.converged(with: .outOfDate) == .outOfDate)
        #expect(TCBStatus.configurationAndSWHardeningNeeded.converged(with: .outOfDate) == .outOfDate)
        #expect(TCBStatus.outOfDateConfigurationNeeded.converged(with: .outOfDate) == .outOfDateConfigurationNeeded)
        #expect(TCBStatus.swHardeningNeeded.converged(with: .configurationNeeded) == .configurationNeeded)
        #expect(TCBStatus.upToDate.converged(with: .revoked) == .revoked)
        for (rank, status) in TCBStatus.allCases.enumerated() {
            for (otherRank, other) in TCBStatus.allCases.enumerated() {
                #expect(status.converged(with: other) == (otherRank > rank ? other : status))
            }
        }
    }

    @Test func aQuotingEnclaveNeedingSWHardeningMakesAnUpToDatePlatformNeedIt() async throws {
        var test = try TestCollateral()
        test.setQELevels([(0, "SWHardeningNeeded", ["INTEL-SA-00615"])])
        var policy = test.policy(try test.json())
        await Self.expectRefusal(.tcbStatusNotAccepted, "status is SWHardeningNeeded (advisories INTEL-SA-00615)") {
            _ = try await test.verify(policy)
        }
        policy.acceptedTCBStatuses = [.swHardeningNeeded]
        let tcb = try #require(try await test.verify(policy).tdx?.tcb)
        #expect(tcb.status == .swHardeningNeeded)
        #expect(tcb.platformStatus == .upToDate)
        #expect(tcb.advisoryIDs == ["INTEL-SA-00615"])
    }

    @Test func aPlatformBelowEveryLevelIsRefused() async throws {
        var test = try TestCollateral()
        for index in 0..<2 {
            try test.changeTCBLevel(index) {
                var tcb = $0["tcb"] as? [String: Any] ?? [:]
                tcb["pcesvn"] = 200
                $0["tcb"] = tcb
            }
        }
        let policy = test.policy(try test.json())
        await Self.expectRefusal(.noMatchingTCBLevel, "PCESVN 11") { _ = try await test.verify(policy) }
    }

    /// TEE_TCB_SVN of the shared quote is 06 01 03, the levels ask 05 00 02: as dcap-qvl compares them, each of the
    /// 16 bytes must reach the level's, the module's version and SVN (bytes 0 and 1) included.
    @Test(arguments: [(0, 7), (1, 2), (2, 4)])
    func everyTDXComponentDecidesTheLevel(_ index: Int, _ svn: Int) async throws {
        var test = try TestCollateral()
        for level in 0..<2 {
            try test.changeTCBLevel(level) {
                var tcb = $0["tcb"] as? [String: Any] ?? [:]
                var components = tcb["tdxtcbcomponents"] as? [[String: Any]] ?? []
                components[index]["svn"] = svn
                tcb["tdxtcbcomponents"] = components
                $0["tcb"] = tcb
            }
        }
        await Self.expectRefusal(.noMatchingTCBLevel, "TEE_TCB_SVN 06010300") {
            _ = try await test.verify(test.policy(try test.json()))
        }
    }

    /// A Revoked level above the platform's does not make it Revoked: the first level it reaches counts.
    @Test func aRevokedLevelThePlatformDoesNotReachIsPassedOver() async throws {
        var test = try TestCollateral()
        try test.changeTCBLevel(0) {
            $0["tcbStatus"] = "Revoked"
            var tcb = $0["tcb"] as? [String: Any] ?? [:]
            var components = tcb["tdxtcbcomponents"] as? [[String: Any]] ?? []
            components[2]["svn"] = 9
            tcb["tdxtcbcomponents"] = components
            $0["tcb"] = tcb
        }
        var policy = test.policy(try test.json())
        policy.acceptedTCBStatuses = Set(TCBStatus.allCases)
        let tcb = try #require(try await test.verify(policy).tdx?.tcb)
        #expect(tcb.status == .outOfDate)
        #expect(tcb.advisoryIDs.first == "INTEL-SA-00106")
    }

    @Test func aModuleBelowEveryLevelIsRefused() async throws {
        var test = try TestCollateral()
        try test.setModuleLevels("TDX_01", [(9, "UpToDate", [])])
        let policy = test.policy(try test.json())
        await Self.expectRefusal(.noMatchingTCBLevel, "TDX module TDX_01") { _ = try await test.verify(policy) }
    }

    // MARK: Refusals

    @Test func aRevokedPCKCertificateIsRefused() async throws {
        var test = try TestCollateral()
        let policy = test.policy(try test.json())
        _ = try await test.verify(policy)
        test.revokedByPlatformCA = [Certificate.SerialNumber(9), test.pck.serialNumber]
        await Self.expectRefusal(.revoked, "the PCK certificate (serial") {
            _ = try await test.verify(test.policy(try test.json()))
        }
    }

    @Test func aRevokedPlatformCAOrSigningCertificateIsRefused() async throws {
        var test = try TestCollateral()
        test.revokedByRoot = [test.platformCA.serialNumber]
        await Self.expectRefusal(.revoked, "Test SGX PCK Platform CA") {
            _ = try await test.verify(test.policy(try test.json()))
        }
        test.revokedByRoot = [test.tcbSigning.serialNumber]
        await Self.expectRefusal(.revoked, "Test SGX TCB Signing") {
            _ = try await test.verify(test.policy(try test.json()))
        }
    }

    @Test func tamperedCollateralSignaturesAreRefused() async throws {
        let test = try TestCollateral()
        let tampered = try test.json {
            $0.replacingOccurrences(of: "\"tcbEvaluationDataNumber\":17", with: "\"tcbEvaluationDataNumber\":18")
        }
        await Self.expectRefusal(.invalidSignature, "the TCB Info's signature does not verify") {
            _ = try await test.verify(test.policy(tampered))
        }
        var collateral = try #require(
            JSONSerialization.jsonObject(with: Data(try test.json())) as? [String: String])
        collateral["qe_identity_signature"] = String(repeating: "ab", count: 64)
        await Self.expectRefusal(.invalidSignature, "the QE Identity's signature does not verify") {
            _ = try await test.verify(test.policy(Array(try JSONSerialization.data(withJSONObject: collateral))))
        }
        let otherKey = try TestCollateral()
        collateral = try #require(JSONSerialization.jsonObject(with: Data(try test.json())) as? [String: String])
        collateral["pck_crl"] = TestCollateral.hex(
            try TestCollateral.crl(issuer: test.platformCA, key: otherKey.platformKey, revoked: []))
        await Self.expectRefusal(.invalidSignature, "the PCK CRL's signature does not verify") {
            _ = try await test.verify(test.policy(Array(try JSONSerialization.data(withJSONObject: collateral))))
        }
    }

    @Test func expiredCollateralIsRefused() async throws {
        let test = try TestCollateral()
        var policy = test.policy(try test.json())
        policy.validationTime = Date(timeIntervalSince1970: 1_752_969_600)  // 2025-07-20, after the TCB Info
        await Self.expectRefusal(.expired, "the TCB Info expired at its nextUpdate") {
            _ = try await test.verify(policy)
        }
    }

    @Test func collateralOfAnotherFMSPCIsRefused() async throws {
        var test = try TestCollateral()
        test.tcbInfo["fmspc"] = "00906ED50000"
        let policy = test.policy(try test.json())
        await Self.expectRefusal(.collateralMismatch, "FMSPC 00906ed50000") { _ = try await test.verify(policy) }
    }

    @Test func aQuotingEnclaveOfAnotherIdentityIsRefused() async throws {
        var test = try TestCollateral()
        test.qeIdentity["mrsigner"] = String(repeating: "AB", count: 32)
        await Self.expectRefusal(.qeIdentityMismatch, "MRSIGNER") {
            _ = try await test.verify(test.policy(try test.json()))
        }
        test = try TestCollateral()
        test.qeIdentity["isvprodid"] = 1
        await Self.expectRefusal(.qeIdentityMismatch, "ISVPRODID is 2, not 1") {
            _ = try await test.verify(test.policy(try test.json()))
        }
        test = try TestCollateral()
        test.qeIdentity["id"] = "QE"
        await Self.expectRefusal(.collateralMismatch, "not TD_QE") {
            _ = try await test.verify(test.policy(try test.json()))
        }
        test = try TestCollateral()
        test.tcbInfo["id"] = "SGX"
        await Self.expectRefusal(.collateralMismatch, "TCB Info is SGX version 3, not TDX") {
            _ = try await test.verify(test.policy(try test.json()))
        }
    }

    // MARK: dcap-qvl's checks and order

    /// The shared quote's TD attributes are 00000010 00000000 (SEPT_VE_DISABLE). Each variant is re-signed and
    /// refused, or accepted, as dcap-qvl decides; DEBUG only with the policy's consent.
    @Test func theTDAttributesAreCheckedAsDcapQVLChecksThem() async throws {
        let test = try TestCollateral()
        let collateral = try test.json()
        func verify(_ attributes: [UInt8], acceptDebug: Bool = false) async throws -> VerifiedEvidence {
            let bytes = try test.requoted { $0.replaceSubrange(168..<176, with: attributes) }
            var policy = test.policy(collateral)
            policy.acceptDebug = acceptDebug
            return try await Self.verify(bytes, policy)
        }
        let refusals: [([UInt8], AttestationError.ErrorCode, String)] = [
            ([0x01, 0, 0, 0x10, 0, 0, 0, 0], .debugNotAllowed, "the TD has the debug attribute set"),
            ([0x02, 0, 0, 0x10, 0, 0, 0, 0], .guestPolicyNotAllowed, "set reserved bits (TUD)"),
            ([0, 0x01, 0, 0x10, 0, 0, 0, 0], .guestPolicyNotAllowed, "set reserved bits (SEC or OTHER)"),
            ([0, 0, 0, 0x30, 0, 0, 0, 0], .guestPolicyNotAllowed, "set reserved bits (SEC or OTHER)"),
            ([0, 0, 0, 0x10, 0x01, 0, 0, 0], .guestPolicyNotAllowed, "set reserved bits (SEC or OTHER)"),
            ([0, 0, 0, 0x10, 0, 0, 0, 0x80], .guestPolicyNotAllowed, "set reserved bits (SEC or OTHER)"),
            ([0, 0, 0, 0, 0, 0, 0, 0], .guestPolicyNotAllowed, "SEPT_VE_DISABLE (TD attribute bit 28) is not set"),
            ([0, 0, 0, 0x40, 0, 0, 0, 0], .guestPolicyNotAllowed, "SEPT_VE_DISABLE"),
        ]
        for (attributes, code, reason) in refusals {
            await Self.expectRefusal(code, reason) { _ = try await verify(attributes) }
        }
        _ = try await verify([0, 0, 0, 0x10, 0, 0, 0, 0])
        _ = try await verify([0, 0, 0, 0xD0, 0x80, 0, 0, 0])  // PKS, KL and bit 39, which dcap-qvl does not check
        _ = try await verify([0x01, 0, 0, 0x10, 0, 0, 0, 0], acceptDebug: true)
    }

    /// dcap-qvl refuses a Revoked status before it looks at the TD attributes, and the attributes before the caller
    /// sees the status.
    @Test func theTDAttributesAreCheckedAfterRevocationAndBeforeTheStatus() async throws {
        var test = try TestCollateral()
        let debug = try test.requoted { $0[168] = 0x01 }
        try test.changeTCBLevel(0) { $0["tcbStatus"] = "OutOfDate" }
        var policy = test.policy(try test.json())
        await Self.expectRefusal(.debugNotAllowed, "debug attribute") {
            _ = try await Self.verify(debug, policy)
        }
        try test.changeTCBLevel(0) { $0["tcbStatus"] = "Revoked" }
        policy = test.policy(try test.json())
        await Self.expectRefusal(.revoked, "TCB status is Revoked") {
            _ = try await Self.verify(debug, policy)
        }
    }

    /// What `confide attest verify` runs: the evaluation reports the status whatever it is, the check refuses it
    /// under the default policy, naming it in Intel's spelling.
    @Test func theEvaluationReportsAStatusTheDefaultPolicyRefuses() async throws {
        var test = try TestCollateral()
        try test.changeTCBLevel(0) {
            $0["tcbStatus"] = "OutOfDate"
            $0["advisoryIDs"] = ["INTEL-SA-00960"]
        }
        let policy = test.policy(try test.json())
        let verification = try await TDXQuoteVerifier.evaluate(test.quote, endorsements: Endorsements(), policy: policy)
        #expect(verification.tcb?.status == .outOfDate)
        #expect(verification.tcb?.status.description == "OutOfDate")
        #expect(verification.tcb?.advisoryIDs == ["INTEL-SA-00960"])
        let error = #expect(throws: AttestationError.self) {
            try TDXQuoteVerifier.check(verification, of: test.quote, against: policy)
        }
        #expect(error?.code == .tcbStatusNotAccepted)
        #expect(
            error?.message == "the platform's TCB status is OutOfDate (advisories INTEL-SA-00960); the policy accepts "
                + "UpToDate")
    }

    /// SEAMATTRIBUTES must match the module identity's under its mask, and set no bit outside it.
    @Test func seamAttributesOutsideTheModulesMaskAreRefused() async throws {
        var test = try TestCollateral()
        let bytes = try test.requoted { $0[160] = 0x01 }
        await Self.expectRefusal(.collateralMismatch, "do not match the TCB Info's 0000000000000000 under its mask") {
            _ = try await Self.verify(bytes, test.policy(try test.json()))
        }
        var identities = try #require(test.tcbInfo["tdxModuleIdentities"] as? [[String: Any]])
        for index in identities.indices {
            identities[index]["attributesMask"] = "FEFFFFFFFFFFFFFF"
        }
        test.tcbInfo["tdxModuleIdentities"] = identities
        await Self.expectRefusal(.collateralMismatch, "set bits outside the TCB Info's mask fefffffffffffff") {
            _ = try await Self.verify(bytes, test.policy(try test.json()))
        }
    }

    @Test func aQuotingEnclaveInDebugModeIsRefused() async throws {
        let test = try TestCollateral()
        let bytes = try test.requoted(qeReport: { $0[48] |= 0x02 })
        await Self.expectRefusal(.qeIdentityMismatch, "the quoting enclave runs in debug mode") {
            _ = try await Self.verify(bytes, test.policy(try test.json()))
        }
    }

    @Test func qeAuthenticationDataOfAnotherLengthIsRefused() async throws {
        let test = try TestCollateral()
        let bytes = try test.requoted(authenticationData: [UInt8](repeating: 7, count: 33))
        await Self.expectRefusal(.malformed, "the QE authentication data is 33 bytes, not 32") {
            _ = try await Self.verify(bytes, test.policy(try test.json()))
        }
        let fine = try test.requoted(authenticationData: [UInt8](repeating: 7, count: 32))
        _ = try await Self.verify(fine, test.policy(try test.json()))
    }

    @Test func aRootRevokedByItsOwnCRLIsRefused() async throws {
        var test = try TestCollateral()
        test.revokedByRoot = [test.root.serialNumber]
        await Self.expectRefusal(.revoked, "the root CA") { _ = try await test.verify(test.policy(try test.json())) }
    }

    /// Revocation lists issued after the verification time are accepted, as webpki (in dcap-qvl) accepts them: only
    /// their nextUpdate counts.
    @Test func revocationListsIssuedAfterTheVerificationTimeAreAccepted() async throws {
        var test = try TestCollateral()
        test.tcbInfo["issueDate"] = "2025-06-01T00:00:00Z"
        test.qeIdentity["issueDate"] = "2025-06-01T00:00:00Z"
        var policy = test.policy(try test.json())
        policy.validationTime = TestCollateral.time.addingTimeInterval(-2 * 86_400)  // before both lists' thisUpdate
        #expect(try await test.verify(policy).tdx?.tcb?.status == .upToDate)
    }

    /// dcap-qvl verifies the PCK chain the collateral carries (`pck_certificate_chain`) instead of the quote's: a
    /// quote embedding Intel's genuine chain, whose QE report this PKI's PCK key signed, verifies with this PKI's
    /// chain in the collateral, and is refused without it.
    @Test func thePCKChainOfTheCollateralReplacesTheQuotes() async throws {
        let test = try TestCollateral()
        let shared = try TDXQuote(bytes: try Fixtures.bytes(TestCollateral.quoteFile))
        let bytes = try TestCollateral.resign(
            shared, qeReportKey: test.pckKey, chain: shared.signatureData.pckCertificateChain)
        var collateral = try #require(
            JSONSerialization.jsonObject(with: Data(try test.json())) as? [String: String])
        await Self.expectRefusal(.untrustedCertificateChain, "PCK chain") {
            _ = try await Self.verify(bytes, test.policy(Array(try JSONSerialization.data(withJSONObject: collateral))))
        }
        collateral["pck_certificate_chain"] = try test.pckChainPEM()
        let policy = test.policy(Array(try JSONSerialization.data(withJSONObject: collateral)))
        #expect(try await Self.verify(bytes, policy).tdx?.pckChain.first?.contains("Test SGX PCK Certificate") == true)
    }

    /// dcap-qvl verifies the PCK CRL with the CA of the PCK chain and never reads `pck_crl_issuer_chain`: a member
    /// that holds no certificate changes nothing, a PCK CRL another key signed is still refused.
    @Test func thePCKCRLIsVerifiedWithThePCKChainsCA() async throws {
        let test = try TestCollateral()
        var collateral = try #require(
            JSONSerialization.jsonObject(with: Data(try test.json())) as? [String: String])
        collateral["pck_crl_issuer_chain"] = "not a certificate"
        let policy = test.policy(Array(try JSONSerialization.data(withJSONObject: collateral)))
        #expect(try await test.verify(policy).tdx?.tcb?.status == .upToDate)
        collateral.removeValue(forKey: "pck_crl_issuer_chain")
        await Self.expectRefusal(.malformed, "pck_crl_issuer_chain") {
            _ = try await test.verify(test.policy(Array(try JSONSerialization.data(withJSONObject: collateral))))
        }
    }

    /// As webpki (in dcap-qvl) builds chains: a certificate after the leaf that does not parse (here the copy of the
    /// root the quote carries) is left out, while a leaf that does not parse is refused.
    @Test func aCertificateAfterTheLeafThatDoesNotParseIsLeftOut() async throws {
        let test = try TestCollateral()
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        let pem = try TestCollateral.pem([test.pck, test.platformCA])
        let policy = test.policy(try test.json())
        let bytes = try TestCollateral.resign(
            test.quote, qeReportKey: test.pckKey, chain: Array((pem + "\n" + broken).utf8))
        #expect(try await Self.verify(bytes, policy).tdx?.pckChain.count == 3)
        let brokenLeaf = try TestCollateral.resign(
            test.quote, qeReportKey: test.pckKey, chain: Array((broken + pem).utf8))
        await Self.expectRefusal(.invalidCertificate, "the first certificate of PCK certificate chain does not parse") {
            _ = try await Self.verify(brokenLeaf, policy)
        }
    }

    /// The quote's module version (TEE_TCB_SVN[1] = 1) has its own identity, TDX_01; the TCB Info must still have
    /// `tdxModule`, as dcap-qvl requires.
    @Test func tcbInfoWithoutTDXModuleIsRefused() async throws {
        var test = try TestCollateral()
        test.tcbInfo.removeValue(forKey: "tdxModule")
        await Self.expectRefusal(.malformed, "the TDX TCB Info has no tdxModule") {
            _ = try await test.verify(test.policy(try test.json()))
        }
    }

    /// A quote whose signature breaks, verified after its TCB Info expired: refused for the TCB Info, which dcap-qvl
    /// checks first.
    @Test func theCollateralIsCheckedBeforeTheQuote() async throws {
        let test = try TestCollateral()
        var bytes = test.quoteBytes
        bytes[48 + 520] ^= 0x01
        var policy = test.policy(try test.json())
        await Self.expectRefusal(.invalidSignature, "quote signature does not verify") {
            _ = try await Self.verify(bytes, policy)
        }
        policy.validationTime = Date(timeIntervalSince1970: 1_752_969_600)  // 2025-07-20, after the TCB Info
        await Self.expectRefusal(.expired, "the TCB Info expired at its nextUpdate") {
            _ = try await Self.verify(bytes, policy)
        }
    }

    // MARK: Parsing untrusted collateral

    @Test func malformedCollateralIsRefusedByName() throws {
        let shared = try TestCollateral.sharedCollateral()
        func refused(_ change: (inout [String: String]) -> Void, _ reason: String) throws {
            var collateral = shared
            change(&collateral)
            let json = Array(try JSONSerialization.data(withJSONObject: collateral))
            let error = #expect(throws: AttestationError.self) { try TDXCollateral(json: json) }
            #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        }
        try refused({ $0["tcb_info"] = nil }, "lacks .tcb_info")
        try refused({ $0["pck_crl"] = "zz" }, "pck_crl is neither hex DER nor a PEM X509 CRL")
        try refused({ $0["root_ca_crl"] = "3003020100" }, "root CA CRL")
        try refused({ $0["tcb_info_signature"] = "00" }, "tcb_info_signature is not 64 bytes")
        func replacing(_ member: String, _ old: String, _ new: String) -> (inout [String: String]) -> Void {
            { $0[member] = $0[member]?.replacingOccurrences(of: old, with: new) }
        }
        try refused(replacing("tcb_info", "\"svn\":2,", "\"svn\":256,"), "SVN 256")
        try refused(replacing("tcb_info", "\"pceId\":\"0000\"", "\"pceId\":\"0\""), "pceId is not 2 bytes")
        try refused(
            { $0["qe_identity"] = $0["qe_identity"]?.replacingOccurrences(of: "UpToDate", with: "Fine") },
            "\"Fine\" is not a TCB status")
        try refused(
            { $0["qe_identity"] = $0["qe_identity"]?.replacingOccurrences(of: "Z\"", with: "\"") },
            "is not a UTC time")
        #expect(throws: AttestationError.self) { try TDXCollateral(json: Array("[1,2".utf8)) }
        #expect(throws: AttestationError.self) {
            try TDXCollateral(json: [UInt8](repeating: 0x20, count: TDXCollateral.maximumSize + 1))
        }
    }

    /// The shared PCK CRL lists 44 serial numbers (as OpenSSL reads it), including ones with the high bit set.
    @Test func theSharedPCKCRLListsItsSerialNumbers() throws {
        let collateral = try TDXCollateral(json: try Fixtures.bytes(TestCollateral.collateralFile))
        #expect(collateral.pckCRL.revokedSerialNumbers.count == 44)
        for serial in ["6FC34E5023E728923435D61AA4B83C618166AD35", "EFAE6E9715FCA13B87E333E8261ED6D990A926AD"] {
            let bytes = try #require(hex(serial))
            #expect(collateral.pckCRL.revokedSerialNumbers.contains(Certificate.SerialNumber(bytes: bytes)))
        }
        #expect(collateral.pckCRL.issuer.description.contains("Intel SGX PCK Platform CA"))
        #expect(collateral.rootCACRL.nextUpdate == Date(timeIntervalSince1970: 1_775_215_317))  // 2026-04-03T11:21:57Z
    }

    @Test func deeplyNestedCollateralIsRefusedWithoutATrap() throws {
        let nested = String(repeating: "[", count: 100_000)
        #expect(throws: AttestationError.self) { try TDXCollateral(json: Array(nested.utf8)) }
        var collateral = try TestCollateral.sharedCollateral()
        collateral["tcb_info"] = nested
        let json = Array(try JSONSerialization.data(withJSONObject: collateral))
        #expect(throws: AttestationError.self) { try TDXCollateral(json: json) }
    }

    @Test func everyPrefixOfTheCollateralAndItsCRLsIsRefusedWithoutATrap() throws {
        let json = try Fixtures.bytes(TestCollateral.collateralFile)
        _ = try TDXCollateral(json: json)
        for length in stride(from: 0, to: json.count, by: 7) {
            #expect(throws: AttestationError.self) { try TDXCollateral(json: Array(json.prefix(length))) }
        }
        let crlHex = try #require(try TestCollateral.sharedCollateral()["root_ca_crl"])
        let crl = try #require(hex(crlHex))
        _ = try CertificateRevocationList(derEncoded: crl, what: "root CA CRL")
        for length in 0..<crl.count {
            #expect(throws: AttestationError.self) {
                try CertificateRevocationList(derEncoded: Array(crl.prefix(length)), what: "root CA CRL")
            }
        }
    }
}
