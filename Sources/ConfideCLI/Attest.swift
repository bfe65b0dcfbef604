import ArgumentParser
import ConfideAttestation
import ConfideClient
import ConfideEnvelope
import ConfideJSON
import ConfideMeasurement
import Foundation

/// `confide attest`: verify attestation evidence from a file or from a running server.
struct Attest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify attestation evidence.", subcommands: [Verify.self, Fetch.self, Measure.self])

    /// Where a report is printed.
    enum Stream {
        case standardOutput, standardError

        func print(_ line: String) {
            switch self {
            case .standardOutput: Swift.print(line)
            case .standardError: FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
    }

    /// Prints what a client verified before trusting a server's keys.
    static func report(_ keys: AttestedKeys, to stream: Stream) {
        if keys.evidence.isSimulated {
            stream.print("WARNING: the server's evidence is SIMULATED and proves nothing (--accept-simulated)")
        }
        stream.print("evidence:     \(keys.evidence.type.rawValue), \(keys.document.evidence.count) bytes, verified")
        stream.print("measurement:  \(Hex.encode(keys.evidence.measurement))")
        stream.print("report data:  \(Hex.encode(keys.evidence.reportData))")
        if let tdx = keys.evidence.tdx {
            Attest.report(tdx, to: stream)
        }
        stream.print("nonce:        \(Hex.encode(keys.nonce))")
        for configuration in keys.configurations {
            let suites = configuration.symmetricSuites.map(\.description).joined(separator: " ")
            stream.print("key:          id \(configuration.keyID), KEM \(configuration.kem), suites \(suites)")
        }
        report(keys.measured, log: keys.document.measurements, register: keys.document.register, to: stream)
    }

    /// Prints what a verified measurement log says is live on the server.
    static func report(_ state: MeasuredState, log: MeasurementLogSnapshot, register: String, to stream: Stream) {
        let anchoring = register == "none" ? "bound through the report data only" : "replayed into \(register)"
        stream.print("log:          \(log.events.count) events, digest \(Hex.encode(log.digest)), \(anchoring)")
        if let executable = state.executable {
            stream.print("executable:   \(executable.path) sha384 \(Hex.encode(executable.digest))")
        }
        for plugin in state.plugins {
            stream.print(
                "plugin:       \(plugin.name) \(plugin.version) (\(plugin.kind), ABI \(plugin.abi), \(plugin.file)) "
                    + "sha384 \(Hex.encode(plugin.digest))")
        }
        for model in state.models {
            stream.print(
                "model:        \(model.name) version \(model.version) (\(model.handler), \(model.source)) "
                    + "digest \(Hex.encode(model.digest))")
        }
        for name in state.settings.keys.sorted() {
            stream.print("setting:      \(name) = \(state.settings[name] ?? "")")
        }
    }
}

extension Attest {
    /// `confide attest verify FILE`: parse evidence, check its signatures and print its fields and the verdict.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and verify a TDX quote, an SEV-SNP report or simulated evidence.",
            discussion: """
                The file holds the evidence raw, as hex (with or without 0x), as base64, or as the Confidential \
                Containers attestation agent's JSON; its type is detected from its header. TDX quotes are verified up \
                to the pinned Intel SGX Root CA, and their TCB status and revocation from Intel's collateral \
                (--tdx-collateral); SEV-SNP reports through their VCEK (or VLEK) chain to AMD's pinned ARK, with the \
                chain from --certificates or from the agent's JSON. With --measurement or \
                --report-data the values are checked as well. The verdict is about the evidence; an SEV-SNP guest \
                that the guest policy flags refuse (VMPL, debug, migration agent, SMT) is reported on its own line \
                and makes the exit status 2.
                """)

        enum Kind: String, ExpressibleByArgument, CaseIterable {
            case tdx, snp, simulated

            var evidenceType: EvidenceType {
                switch self {
                case .tdx: .tdxQuote
                case .snp: .snpReport
                case .simulated: .simulated
                }
            }
        }

        @Argument(help: "The evidence file.")
        var file: String

        @Option(help: "The evidence type the file must hold; detected when omitted.")
        var type: Kind?

        @Option(
            name: [.customLong("certificates"), .customLong("vcek")],
            help: ArgumentHelp(
                "The SEV-SNP VCEK or VLEK, optionally with its ASK and ARK (PEM or DER), to verify an SEV-SNP report.",
                valueName: "file"))
        var certificates: String?

        @OptionGroup(title: "Guest policy")
        var guest: GuestPolicyOptions

        @Option(help: ArgumentHelp("An accepted MRTD or measurement, 48 bytes in hex (repeat).", valueName: "hex"))
        var measurement: [String] = []

        @Option(help: ArgumentHelp("The report data the evidence must carry, 64 bytes in hex.", valueName: "hex"))
        var reportData: String?

        @OptionGroup(title: "TDX collateral")
        var collateral: CollateralOptions

        func run() async throws {
            var policy = try guest.apply(to: nil)
            try collateral.apply(to: &policy)
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let claimed: (measurement: [UInt8], reportData: [UInt8], guestRefusal: AttestationError?)
            do {
                let evidence = try EvidenceFormat.decode(Array(data))
                let type = evidence.type.rawValue
                print("file:         \(file), \(evidence.bytes.count) bytes, \(type) (\(evidence.encoding))")
                if let kind = self.type, kind.evidenceType != evidence.type {
                    print("verdict:      REFUSED: the file holds \(type), not \(kind.evidenceType.rawValue)")
                    throw ExitCode(1)
                }
                let given = try certificates.map(Self.read) ?? evidence.snpCertificates
                claimed = try await Self.verify(evidence, certificates: given, policy: policy)
                try check(claimed.measurement, claimed.reportData, guestRefused: claimed.guestRefusal != nil)
            } catch let error as AttestationError {
                print("verdict:      REFUSED: \(error.message) (\(error.code))")
                throw ExitCode(1)
            }
        }

        /// Checks the measurement and report data asked for and prints the verdict on the evidence; exits with 2 when
        /// the evidence verifies but the guest policy refused the guest.
        private func check(_ actual: [UInt8], _ actualReportData: [UInt8], guestRefused: Bool) throws {
            let allowed = try measurement.map { try Hex.decode($0, bytes: 48, what: "--measurement") }
            if !allowed.isEmpty, !allowed.contains(actual) {
                print("verdict:      REFUSED: the measurement is not among those given")
                throw ExitCode(1)
            }
            if let reportData, try Hex.decode(reportData, bytes: 64, what: "--report-data") != actualReportData {
                print("verdict:      REFUSED: the report data is not the one given")
                throw ExitCode(1)
            }
            let checked = (allowed.isEmpty ? [] : ["measurement"]) + (reportData == nil ? [] : ["report data"])
            print("verdict:      OK" + (checked.isEmpty ? "" : " (\(checked.joined(separator: " and ")) checked)"))
            if guestRefused {
                throw ExitCode(2)
            }
        }

        /// Parses, prints and verifies; returns the measurement, the report data and, for SEV-SNP, why the guest
        /// policy refuses the guest (the evidence verdict does not depend on it).
        private static func verify(
            _ evidence: DecodedEvidence,
            certificates: [UInt8]?,
            policy: AttestationPolicy
        ) async throws -> (measurement: [UInt8], reportData: [UInt8], guestRefusal: AttestationError?) {
            let bytes = evidence.bytes
            switch evidence.type {
            case .tdxQuote:
                let quote = try TDXQuote(bytes: bytes)
                let body = quote.body
                print("version:      \(quote.header.version), TEE type 0x\(String(quote.header.teeType, radix: 16))")
                print("QE vendor:    \(Hex.encode(quote.header.qeVendorID))")
                print("TEE TCB SVN:  \(Hex.encode(body.teeTCBSVN))")
                print("MRSEAM:       \(Hex.encode(body.mrSeam))")
                print("TD attrs:     \(Hex.encode(body.tdAttributes))\(body.isDebug ? " (DEBUG)" : "")")
                print("XFAM:         \(Hex.encode(body.xfam))")
                print("MRTD:         \(Hex.encode(body.mrTD))")
                print("MRCONFIGID:   \(Hex.encode(body.mrConfigID))")
                print("MROWNER:      \(Hex.encode(body.mrOwner))")
                for (index, rtmr) in body.rtmrs.enumerated() {
                    print("RTMR\(index):        \(Hex.encode(rtmr))")
                }
                print("REPORTDATA:   \(Hex.encode(body.reportData))")
                let verification = try await TDXQuoteVerifier.evaluate(
                    quote, endorsements: Endorsements(), policy: policy)
                print("signature:    quote, QE report and PCK chain to the Intel SGX Root CA verify")
                Attest.report(verification, to: .standardOutput)
                try TDXQuoteVerifier.check(verification, of: quote, against: policy)
                return (body.mrTD, body.reportData, nil)
            case .snpReport:
                let report = try SNPReport(bytes: bytes)
                let guestPolicy = String(report.policy, radix: 16)
                print("version:      \(report.version), VMPL \(report.vmpl), policy 0x\(guestPolicy)")
                print("guest SVN:    \(report.guestSVN)")
                print("MEASUREMENT:  \(Hex.encode(report.measurement))")
                print("HOST_DATA:    \(Hex.encode(report.hostData))")
                print("REPORT_DATA:  \(Hex.encode(report.reportData))")
                print("CHIP_ID:      \(Hex.encode(report.chipID))")
                guard let certificates else {
                    print("verdict:      NOT VERIFIED: give --certificates with the VCEK (or VLEK) to check the report")
                    throw ExitCode(1)
                }
                let endorsement = try SNPReportVerifier.verifyEvidence(
                    report, certificates: certificates, policy: policy)
                for (index, certificate) in endorsement.chain.enumerated() {
                    print((index == 0 ? "chain:        " : "              ") + certificate.description)
                }
                let signer = endorsement.signingKey.rawValue
                print("signature:    verifies with the \(signer), which chains to AMD's pinned ARK")
                let minimum = policy.snpMinimumTCB == nil ? "" : ", at or above the minimum"
                let line = endorsement.productLine.rawValue
                print("TCB:          \(line), \(endorsement.tcb) (= the key's TCB\(minimum))")
                if let cloud = endorsement.cloudServiceProviderID {
                    print("VLEK of:      \(cloud)")
                } else {
                    let zero = report.chipID.allSatisfy { $0 == 0 }
                    let masked = report.chipIDMasked ? " (masked by the host)" : ""
                    let chip = zero ? "CHIP_ID is zero\(masked), not compared" : "CHIP_ID is the VCEK's hwID"
                    print("chip:         \(chip)")
                }
                let smt = report.allowsSMT || report.platformSMTEnabled ? "allowed" : "off"
                print(
                    "guest:        VMPL \(report.vmpl), debug \(report.allowsDebug ? "allowed" : "off"), "
                        + "migration agent \(report.allowsMigrationAgent ? "allowed" : "off"), SMT \(smt)")
                do throws(AttestationError) {
                    try SNPReportVerifier.checkGuestPolicy(report, policy: policy)
                    print("guest policy: accepted")
                    return (report.measurement, report.reportData, nil)
                } catch {
                    print("guest policy: REFUSED: \(error.message) (\(error.code))")
                    return (report.measurement, report.reportData, error)
                }
            case .simulated:
                let evidence = try SimulatedEvidence(bytes: bytes)
                print("WARNING:      SIMULATED evidence proves nothing about the machine")
                print("version:      \(evidence.version)")
                print("measurement:  \(Hex.encode(evidence.measurement))")
                print("report data:  \(Hex.encode(evidence.reportData))")
                print("public key:   \(Hex.encode(evidence.publicKey))")
                try evidence.verifySignature()
                print("signature:    verifies with the key it carries (integrity only, not origin)")
                return (evidence.measurement, evidence.reportData, nil)
            }
        }

        private static func read(_ path: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            return Array(data)
        }
    }

    /// `confide attest fetch URL`: fetch a server's evidence for a fresh nonce, verify it and print it.
    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a server's attestation evidence and verify it against a policy.")

        @Argument(help: "The server's base URL, e.g. http://127.0.0.1:8080.")
        var url: String

        @OptionGroup(title: "Attestation policy")
        var policy: PolicyOptions

        func run() async throws {
            let address = try ServerAddress(url)
            let client = try await ObliviousClient.connect(
                host: address.host, port: address.port, policy: try policy.policy())
            let keys: AttestedKeys
            do {
                keys = try await client.attest()
            } catch {
                await client.close()
                if let error = error as? ObliviousClientError {
                    print("verdict:      REFUSED: \(error.message)")
                    throw ExitCode(1)
                }
                throw error
            }
            await client.close()
            Attest.report(keys, to: .standardOutput)
            print("verdict:      OK: the evidence satisfies the policy and binds these keys to the nonce")
        }
    }
}
