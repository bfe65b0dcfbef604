import ConfideAttestation
import FuzzDriver

runFuzzer(AttestationFuzz.tdxQuote)
