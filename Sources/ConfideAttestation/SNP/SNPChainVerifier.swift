import ConfideJSON
import ConfideMeasurement
import Crypto
import Foundation

/// Checks the certificates of an SEV-SNP report: VCEK → ASK → ARK or VLEK → ASVK → ARK, to the ARK pinned for
/// the product line, with RSASSA-PSS signatures, AMD's names, validity windows, and the endorsement key
/// certificate's AMD extensions against the report (hardware ID = CHIP_ID, SPLs = REPORTED_TCB).
enum SNPChainVerifier {
    /// Verifies the chain for `report` from `certificates` (PEM or DER) at `time`; the report's own signature is
    /// not checked here.
    static func verify(
        report: SNPReport,
        certificates: [UInt8],
        anchors: SNPTrustAnchors,
        at time: Date
    ) throws(AttestationError) -> (endorsement: SNPEndorsement, extensions: SNPKeyExtensions) {
        let key: SNPSigningKey
        switch report.signingKeySelector {
        case 0: key = .vcek
        case 1: key = .vlek
        case let other:
            throw AttestationError(
                .unsupportedFormat,
                "SNP report SIGNING_KEY is \(other) (0 is the VCEK, 1 the VLEK, 7 none): no certificate can endorse it"
            )
        }
        var given: [AMDCertificate] = []
        for (index, der) in try SNPCertificateTable.derCertificates(in: certificates).enumerated() {
            given.append(try AMDCertificate(der: der, what: "SNP certificate \(index + 1)"))
        }
        let leafName = "SEV-\(key.rawValue)"
        let named = given.first { $0.subjectCommonName == leafName }
        guard let leaf = named ?? (given.count == 1 ? given.first : nil) else {
            let names = given.map(\.subjectCommonName).joined(separator: ", ")
            throw AttestationError(
                .missingCollateral,
                "the report is signed by its \(key.rawValue) and no \(leafName) certificate is among those given "
                    + "(\(names))"
            )
        }
        guard leaf.subjectCommonName == leafName else {
            throw AttestationError(
                .untrustedCertificateChain,
                "certificate \(leaf.subjectCommonName) is not a \(key.rawValue): its subject must be \(leafName)"
            )
        }
        let extensions = try SNPKeyExtensions(leaf, key: key)
        let line = try Self.productLine(report: report, extensions: extensions)
        let ark = try Self.root(line, anchors: anchors, given: given, at: time)
        let intermediate = try Self.intermediate(line, key: key, ark: ark, anchors: anchors, given: given, at: time)
        let issuerName = intermediate.certificate.subjectCommonName
        guard leaf.issuer == intermediate.certificate.subject else {
            throw AttestationError(
                .untrustedCertificateChain,
                "\(leafName) certificate is issued by \(leaf.issuerCommonName), not by \(issuerName) of "
                    + "AMD's ARK-\(line.rawValue)"
            )
        }
        guard leaf.isSigned(by: intermediate.certificate) else {
            throw AttestationError(
                .untrustedCertificateChain,
                "\(leafName) certificate's signature does not verify with the key of \(issuerName) "
                    + "(\(intermediate.origin), signed by AMD's ARK-\(line.rawValue))"
            )
        }
        try Self.checkValidity(leaf, role: key.rawValue, at: time)
        let publicKey: P384.Signing.PublicKey
        do {
            publicKey = try P384.Signing.PublicKey(derRepresentation: leaf.subjectPublicKeyInfo)
        } catch {
            throw AttestationError(.invalidKey, "\(leafName) certificate does not hold a P-384 public key")
        }
        let endorsement = SNPEndorsement(
            productLine: line,
            signingKey: key,
            chain: [
                Self.summary(leaf, origin: "given"),
                Self.summary(intermediate.certificate, origin: intermediate.origin),
                Self.summary(ark, origin: "pinned"),
            ],
            tcb: SNPTCBLayout.describe(report.reportedTCB, line),
            hardwareID: extensions.hardwareID,
            cloudServiceProviderID: extensions.cloudServiceProviderID,
            publicKey: publicKey
        )
        return (endorsement, extensions)
    }

    /// Checks that the endorsement key certificate describes the report's chip (unless CHIP_ID is all zero, as when
    /// the host masks it) and REPORTED_TCB, byte by byte for the product line's TCB layout.
    static func checkPlatform(
        report: SNPReport,
        endorsement: SNPEndorsement,
        extensions: SNPKeyExtensions
    ) throws(AttestationError) {
        if let hardwareID = extensions.hardwareID, !report.chipID.allSatisfy({ $0 == 0 }) {
            let matches: Bool
            if hardwareID.count == 8 {
                matches =
                    endorsement.productLine == .turin && Array(report.chipID.prefix(8)) == hardwareID
                    && report.chipID.dropFirst(8).allSatisfy { $0 == 0 }
            } else {
                matches = report.chipID == hardwareID
            }
            guard matches else {
                throw AttestationError(
                    .collateralMismatch,
                    "the VCEK is for another chip: the report's CHIP_ID \(Hex.encode(report.chipID)) is not the VCEK "
                        + "certificate's hwID \(Hex.encode(hardwareID))"
                )
            }
        }
        let key = endorsement.signingKey.rawValue
        var certified: UInt64 = 0
        var mismatches: [String] = []
        for component in SNPTCBLayout.components(endorsement.productLine) {
            let reported = SNPTCBLayout.byte(report.reportedTCB, component.index)
            guard let arc = component.arc else {
                if reported != 0 {
                    mismatches.append("\(component.name) \(reported) (must be 0)")
                }
                continue
            }
            guard let level = extensions.splByArc[arc] else {
                throw AttestationError(
                    .invalidCertificate,
                    "\(key) certificate has no \(SNPKeyExtensions.splName(arc)) extension "
                        + "(1.3.6.1.4.1.3704.1.3.\(arc)), which \(endorsement.productLine.rawValue) TCBs have"
                )
            }
            certified |= UInt64(level) << (8 * UInt64(component.index))
            if reported != level {
                mismatches.append("\(component.name) \(reported) (certificate: \(level))")
            }
        }
        guard mismatches.isEmpty else {
            throw AttestationError(
                .collateralMismatch,
                "the REPORTED_TCB 0x\(String(report.reportedTCB, radix: 16)) does not match the \(key) TCB "
                    + "0x\(String(certified, radix: 16)): " + mismatches.joined(separator: ", ")
            )
        }
    }

    /// The product line: from the report's CPUID fields (version 3 and later), else the certificate's productName.
    private static func productLine(
        report: SNPReport,
        extensions: SNPKeyExtensions
    ) throws(AttestationError) -> SNPProductLine {
        if report.version >= 3, report.cpuidFamily != 0 {
            guard let line = SNPProductLine(cpuidFamily: report.cpuidFamily, model: report.cpuidModel) else {
                throw AttestationError(
                    .unsupportedFormat,
                    "SNP report CPUID family 0x\(String(report.cpuidFamily, radix: 16)) model "
                        + "0x\(String(report.cpuidModel, radix: 16)) is no product line with a pinned AMD root"
                )
            }
            return line
        }
        guard let line = SNPProductLine(productName: extensions.productName) else {
            throw AttestationError(
                .untrustedCertificateChain,
                "productName \"\(extensions.productName)\" names no product line with a pinned AMD root"
            )
        }
        return line
    }

    /// The pinned ARK of `line`, checked to be self-signed and valid; a given ARK must be that very certificate.
    private static func root(
        _ line: SNPProductLine,
        anchors: SNPTrustAnchors,
        given: [AMDCertificate],
        at time: Date
    ) throws(AttestationError) -> AMDCertificate {
        guard let der = anchors.roots[line] else {
            throw AttestationError(.untrustedCertificateChain, "no AMD root is pinned for \(line.rawValue)")
        }
        let ark = try AMDCertificate(der: der, what: "pinned ARK-\(line.rawValue)")
        guard ark.subject == ark.issuer, ark.isSigned(by: ark) else {
            throw AttestationError(
                .untrustedCertificateChain, "pinned \(ark.subjectCommonName) is not self-signed")
        }
        try Self.checkValidity(ark, role: "ARK", at: time)
        for certificate in given where certificate.subjectCommonName.hasPrefix("ARK-") && certificate.der != der {
            throw AttestationError(
                .untrustedCertificateChain,
                "the given \(certificate.subjectCommonName) is not AMD's ARK-\(line.rawValue) pinned for this report"
            )
        }
        return ark
    }

    /// The ASK (VCEK) or ASVK (VLEK) of `line`: a given one if present, else a pinned one, signed by the ARK; a given
    /// intermediate of another product line is refused, as go-sev-guest refuses it.
    private static func intermediate(
        _ line: SNPProductLine,
        key: SNPSigningKey,
        ark: AMDCertificate,
        anchors: SNPTrustAnchors,
        given: [AMDCertificate],
        at time: Date
    ) throws(AttestationError) -> (certificate: AMDCertificate, origin: String) {
        let name = key == .vcek ? "SEV-\(line.rawValue)" : "SEV-VLEK-\(line.rawValue)"
        let role = key == .vcek ? "ASK" : "ASVK"
        let ownNames: Set = ["SEV-VCEK", "SEV-VLEK", "SEV-\(line.rawValue)", "SEV-VLEK-\(line.rawValue)"]
        for certificate in given
        where certificate.subjectCommonName.hasPrefix("SEV-") && !ownNames.contains(certificate.subjectCommonName) {
            throw AttestationError(
                .untrustedCertificateChain,
                "the given \(certificate.subjectCommonName) is not \(name), the \(role) of the report's product line "
                    + line.rawValue
            )
        }
        var candidates = given.filter { $0.subjectCommonName == name }.map { ($0, "given") }
        if candidates.isEmpty {
            for der in anchors.intermediates[line] ?? [] {
                let certificate = try AMDCertificate(der: der, what: "pinned \(role)")
                if certificate.subjectCommonName == name {
                    candidates.append((certificate, "pinned"))
                }
            }
        }
        guard let (certificate, origin) = candidates.first else {
            throw AttestationError(
                .missingCollateral, "no \(role) \(name) was given, and none is pinned for \(line.rawValue)")
        }
        guard certificate.issuer == ark.subject, certificate.isSigned(by: ark) else {
            throw AttestationError(
                .untrustedCertificateChain,
                "\(role) \(name) (\(origin), issued by \(certificate.issuerCommonName)) is not signed by AMD's "
                    + ark.subjectCommonName
            )
        }
        try Self.checkValidity(certificate, role: role, at: time)
        return (certificate, origin)
    }

    private static func checkValidity(
        _ certificate: AMDCertificate,
        role: String,
        at time: Date
    ) throws(AttestationError) {
        guard certificate.isValid(at: time) else {
            let formatter = ISO8601DateFormatter()
            let state =
                time < certificate.notBefore
                ? "is not valid before \(formatter.string(from: certificate.notBefore))"
                : "expired on \(formatter.string(from: certificate.notAfter))"
            throw AttestationError(
                .expired,
                "\(role) certificate \(certificate.subjectCommonName) \(state) (verification time "
                    + "\(formatter.string(from: time)))"
            )
        }
    }

    private static func summary(_ certificate: AMDCertificate, origin: String) -> SNPCertificateSummary {
        SNPCertificateSummary(
            subject: certificate.subjectCommonName,
            issuer: certificate.issuerCommonName,
            notBefore: certificate.notBefore,
            notAfter: certificate.notAfter,
            origin: origin
        )
    }
}
