import ConfideEnvelope
import FuzzDriver

runFuzzer(EnvelopeFuzz.bhttpRequest)
