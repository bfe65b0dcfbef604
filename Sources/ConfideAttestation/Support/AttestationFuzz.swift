/// Entry points for fuzzers: each parses arbitrary bytes (and for TDX also verifies them) and must never trap.
public enum AttestationFuzz {
    /// Parses `bytes` as a TDX quote and, when that succeeds, runs the signature and QE report checks.
    public static func tdxQuote(_ bytes: [UInt8]) {
        guard let quote = try? TDXQuote(bytes: bytes) else {
            return
        }
        _ = try? TDXQuoteVerifier.verifyQuoteSignature(quote)
        if let chain = try? PCKCertificateChain(pem: quote.signatureData.pckCertificateChain),
            let key = try? chain.leafKey()
        {
            _ = try? TDXQuoteVerifier.verifyQEReport(quote, pckKey: key)
        }
    }

    /// Parses `bytes` as TDX collateral JSON (with its TCB Info, QE Identity and CRLs) and as a DER revocation list.
    public static func tdxCollateral(_ bytes: [UInt8]) {
        _ = try? TDXCollateral(json: bytes)
        _ = try? CertificateRevocationList(derEncoded: bytes, what: "fuzz input")
    }

    /// Parses `bytes` as a SEV-SNP report.
    public static func snpReport(_ bytes: [UInt8]) {
        _ = try? SNPReport(bytes: bytes)
    }

    /// Reads `bytes` as a GHCB certificate table and as PEM or DER certificates, and parses every certificate found
    /// with its AMD extensions.
    public static func snpCertificates(_ bytes: [UInt8]) {
        let fromTable = (try? SNPCertificateTable.entries(ofTable: bytes).map(\.der)) ?? []
        let given = (try? SNPCertificateTable.derCertificates(in: bytes)) ?? []
        for der in fromTable + given {
            guard let certificate = try? AMDCertificate(der: der, what: "fuzz input") else {
                continue
            }
            _ = try? SNPKeyExtensions(certificate, key: .vcek)
            _ = try? SNPKeyExtensions(certificate, key: .vlek)
        }
    }

    /// Detects and decodes `bytes` as evidence input (raw, hex, base64 or attestation agent JSON).
    public static func evidenceInput(_ bytes: [UInt8]) {
        _ = try? EvidenceFormat.decode(bytes)
    }

    /// Parses `bytes` as simulated evidence and checks its signature.
    public static func simulatedEvidence(_ bytes: [UInt8]) {
        _ = try? SimulatedEvidence(bytes: bytes).verifySignature()
    }
}
