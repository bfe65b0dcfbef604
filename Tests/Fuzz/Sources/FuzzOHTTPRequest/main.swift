import ConfideEnvelope
import FuzzDriver

runFuzzer(EnvelopeFuzz.ohttpRequest)
