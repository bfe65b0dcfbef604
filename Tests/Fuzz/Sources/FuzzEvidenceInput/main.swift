import ConfideAttestation
import FuzzDriver

runFuzzer(AttestationFuzz.evidenceInput)
