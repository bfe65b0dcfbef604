import ConfideJSON
import ConfideMeasurement
import Crypto
import SwiftASN1

/// An AMD EPYC product line that runs SEV-SNP guests, each with its own root key.
public enum SNPProductLine: String, Sendable, Hashable, CaseIterable {
    /// EPYC 7003 (Zen 3).
    case milan = "Milan"
    /// EPYC 9004 (Zen 4).
    case genoa = "Genoa"
    /// EPYC 9005 (Zen 5); its TCB_VERSION layout adds an FMC field and its hardware ID is 8 bytes.
    case turin = "Turin"

    /// The product line of a chip by its CPUID family and model (as report version 3 and later carry them).
    public init?(cpuidFamily: UInt8, model: UInt8) {
        switch (cpuidFamily, model) {
        case (0x19, 0x00...0x0F): self = .milan
        case (0x19, 0x10...0x1F), (0x19, 0xA0...0xAF): self = .genoa
        case (0x1A, 0x00...0x11): self = .turin
        default: return nil
        }
    }

    /// The product line a VCEK or VLEK `productName` extension names (`Milan-B0`, `Genoa`, ...).
    init?(productName: String) {
        let line = productName.split(separator: "-", maxSplits: 1).first.map(String.init) ?? productName
        self.init(rawValue: line)
    }
}

/// The roots SEV-SNP certificate chains must lead to: one ARK per product line, and the ASKs and ASVKs known in
/// advance (used only after they verify to their ARK).
///
/// ``amd`` holds AMD's published certificates; tests build their own to reach checks that need a re-signed report.
package struct SNPTrustAnchors: Sendable {
    /// The pinned ARK (DER) of each product line.
    package var roots: [SNPProductLine: [UInt8]]
    /// ASK and ASVK certificates (DER) of each product line, tried when the evidence brings none.
    package var intermediates: [SNPProductLine: [[UInt8]]]

    /// Creates anchors from DER certificates.
    package init(roots: [SNPProductLine: [UInt8]], intermediates: [SNPProductLine: [[UInt8]]] = [:]) {
        self.roots = roots
        self.intermediates = intermediates
    }

    /// AMD's ARKs for Milan, Genoa and Turin, each checked against its pinned SHA-256, with AMD's ASKs and ASVKs.
    package static let amd: SNPTrustAnchors = {
        let published: [(SNPProductLine, ark: String, sha256: String, ask: String, asvk: String)] = [
            (
                .milan, AMDRootCertificates.arkMilan, AMDRootCertificates.arkMilanSHA256,
                AMDRootCertificates.askMilan, AMDRootCertificates.asvkMilan
            ),
            (
                .genoa, AMDRootCertificates.arkGenoa, AMDRootCertificates.arkGenoaSHA256,
                AMDRootCertificates.askGenoa, AMDRootCertificates.asvkGenoa
            ),
            (
                .turin, AMDRootCertificates.arkTurin, AMDRootCertificates.arkTurinSHA256,
                AMDRootCertificates.askTurin, AMDRootCertificates.asvkTurin
            ),
        ]
        var anchors = SNPTrustAnchors(roots: [:])
        for (line, ark, sha256, ask, asvk) in published {
            guard let arkDER = try? PEMDocument(pemString: ark).derBytes,
                Hex.encode(SHA256.hash(data: arkDER)) == sha256
            else {
                continue
            }
            anchors.roots[line] = arkDER
            anchors.intermediates[line] = [ask, asvk].compactMap { try? PEMDocument(pemString: $0).derBytes }
        }
        return anchors
    }()
}
