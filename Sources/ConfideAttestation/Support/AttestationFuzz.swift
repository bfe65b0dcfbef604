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

    /// Parses `bytes` as simulated evidence and checks its signature.
    public static func simulatedEvidence(_ bytes: [UInt8]) {
        _ = try? SimulatedEvidence(bytes: bytes).verifySignature()
    }
}
