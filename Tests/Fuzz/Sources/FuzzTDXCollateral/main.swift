import ConfideAttestation
import FuzzDriver

runFuzzer(AttestationFuzz.tdxCollateral)
