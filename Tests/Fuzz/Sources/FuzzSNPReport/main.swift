import ConfideAttestation
import FuzzDriver

runFuzzer(AttestationFuzz.snpReport)
