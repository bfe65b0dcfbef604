import Crypto
import SwiftASN1

/// Reads the P-384 public key of a VCEK certificate.
///
/// AMD signs VCEKs with RSASSA-PSS, which swift-certificates does not parse, so the subject public key info is read
/// straight from the DER structure; the certificate's own signature is not checked here.
enum VCEKPublicKey {
    static func parse(der: [UInt8]) throws(AttestationError) -> P384.Signing.PublicKey {
        do {
            let certificate = try DER.parse(der)
            guard case .constructed(let certificateFields) = certificate.content,
                let tbs = certificateFields.first(where: { _ in true }),
                case .constructed(let tbsFields) = tbs.content
            else {
                throw AttestationError(.invalidCertificate, "VCEK is not a certificate")
            }
            var fields = Array(tbsFields)
            if let version = fields.first,
                version.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
            {
                fields.removeFirst()
            }
            let spkiIndex = 5
            guard fields.count > spkiIndex else {
                throw AttestationError(.invalidCertificate, "VCEK has no subject public key info")
            }
            return try P384.Signing.PublicKey(derRepresentation: fields[spkiIndex].encodedBytes)
        } catch let error as AttestationError {
            throw error
        } catch {
            throw AttestationError(.invalidCertificate, "VCEK does not hold a P-384 key: \(error)")
        }
    }
}
