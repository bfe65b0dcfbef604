import ArgumentParser
import ConfideAttestation
import ConfideJSON
import Foundation

/// The command-line flags of a policy's TDX collateral rules and its verification time.
struct CollateralOptions: ParsableArguments {
    @Option(
        name: .customLong("tdx-collateral"),
        help: ArgumentHelp(
            "Intel PCS collateral for TDX evidence (the JSON dcap-qvl and dstack use), used instead of the server's.",
            valueName: "file"))
    var tdxCollateral: String?

    @Option(
        name: .customLong("accept-tcb-status"),
        help: ArgumentHelp(
            """
            A TDX TCB status accepted besides UpToDate (repeat): SWHardeningNeeded, ConfigurationNeeded, \
            ConfigurationAndSWHardeningNeeded, OutOfDate or OutOfDateConfigurationNeeded. Revoked is never accepted.
            """,
            valueName: "status"))
    var acceptTCBStatus: [String] = []

    @Option(
        name: .customLong("min-tcb-evaluation-data-number"),
        help: ArgumentHelp(
            "The lowest TCB evaluation data number of the TDX collateral accepted.", valueName: "number"))
    var minTCBEvaluationDataNumber: Int?

    @Flag(
        help: """
            Accept TDX evidence without collateral: the quoting enclave is then checked against Intel's fixed values, \
            and neither the TCB status nor revocation is checked.
            """)
    var allowMissingCollateral = false

    @Option(
        help: ArgumentHelp(
            "Verify at this time (ISO 8601, e.g. 2025-06-20T00:00:00Z) instead of now, for saved evidence.",
            valueName: "time"))
    var at: String?

    /// Sets the policy's TDX collateral rules and verification time from these flags.
    func apply(to policy: inout AttestationPolicy) throws {
        var accepted: Set<TCBStatus> = [.upToDate]
        for name in acceptTCBStatus {
            guard let status = TCBStatus.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }),
                status != .revoked
            else {
                let names = TCBStatus.allCases.filter { $0 != .revoked }.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("--accept-tcb-status \(name) is not one of \(names)")
            }
            accepted.insert(status)
        }
        policy.acceptedTCBStatuses = accepted
        policy.minimumTCBEvaluationDataNumber = minTCBEvaluationDataNumber
        policy.allowMissingTDXCollateral = allowMissingCollateral
        if let tdxCollateral {
            guard let data = FileManager.default.contents(atPath: tdxCollateral) else {
                throw ValidationError("cannot read the TDX collateral \(tdxCollateral)")
            }
            policy.tdxCollateral = Array(data)
        }
        if let at {
            guard let time = try? Date(at, strategy: .iso8601) else {
                throw ValidationError("--at \(at) is not an ISO 8601 time such as 2025-06-20T00:00:00Z")
            }
            policy.validationTime = time
        }
    }
}

extension Attest {
    /// Prints what the verification of a TDX quote established: the TCB status, the advisories, the quoting
    /// enclave's identity and the chains and collateral checked.
    static func report(_ tdx: TDXVerification, to stream: Stream) {
        if let tcb = tdx.tcb {
            let module = tcb.tdxModuleStatus.map { ", TDX module \($0)" } ?? ""
            stream.print(
                "TCB status:   \(tcb.status) (platform \(tcb.platformStatus)\(module); FMSPC \(Hex.encode(tcb.fmspc)), "
                    + "level of \(tcb.platformTCBDate.formatted(.iso8601.year().month().day())))")
            stream.print("advisories:   \(tcb.advisoryIDs.isEmpty ? "none" : tcb.advisoryIDs.joined(separator: " "))")
            stream.print("TCB eval:     evaluation data number \(tcb.tcbEvaluationDataNumber)")
        } else {
            stream.print(
                "TCB status:   NOT CHECKED: no collateral (--allow-missing-collateral); revocation not checked")
        }
        let qe = tdx.qeIdentity
        switch qe.source {
        case .collateral:
            let number = qe.tcbEvaluationDataNumber.map { ", evaluation data number \($0)" } ?? ""
            let advisories = qe.advisoryIDs.isEmpty ? "" : ", advisories \(qe.advisoryIDs.joined(separator: " "))"
            stream.print(
                "QE identity:  matches Intel's QE Identity (TD_QE); ISVSVN \(qe.isvSVN), "
                    + "\(qe.status.map(\.rawValue) ?? "no status")\(number)\(advisories)")
        case .fixedValues:
            stream.print("QE identity:  matches Intel's production TD QE (fixed values); ISVSVN \(qe.isvSVN)")
        }
        stream.print("PCK chain:    \(tdx.pckChain.joined(separator: " <- "))")
        for line in tdx.collateralChecks {
            stream.print("collateral:   \(line)")
        }
    }
}
