import ConfideEnvelope
import FuzzDriver

runFuzzer(EnvelopeFuzz.keyConfigs)
