import ConfideJSON
import ConfideMeasurement
import Crypto
import SwiftASN1
public import X509

/// The Intel SGX Root CA (production), the single trust anchor for TDX PCK certificate chains.
public enum IntelSGXRootCA {
    /// The certificate in PEM, as Intel publishes it.
    public static let pem = """
        -----BEGIN CERTIFICATE-----
        MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
        aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
        cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
        BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
        A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
        aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
        AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
        1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
        uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
        MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
        ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
        Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
        KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
        AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
        -----END CERTIFICATE-----
        """

    /// SHA-256 of the certificate's DER encoding, checked before the certificate is trusted.
    public static let derSHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

    /// The pinned root certificate, parsed from ``pem`` and checked against ``derSHA256``.
    public static func certificate() throws(AttestationError) -> Certificate {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: Self.pem)
        } catch {
            throw AttestationError(.invalidCertificate, "pinned Intel SGX Root CA PEM does not parse: \(error)")
        }
        guard Hex.encode(SHA256.hash(data: document.derBytes)) == Self.derSHA256 else {
            throw AttestationError(.invalidCertificate, "pinned Intel SGX Root CA does not match its SHA-256")
        }
        do {
            return try Certificate(derEncoded: document.derBytes)
        } catch {
            throw AttestationError(.invalidCertificate, "pinned Intel SGX Root CA does not parse: \(error)")
        }
    }
}
