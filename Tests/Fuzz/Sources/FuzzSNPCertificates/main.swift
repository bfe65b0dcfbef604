import ConfideAttestation
import FuzzDriver

runFuzzer(AttestationFuzz.snpCertificates)
