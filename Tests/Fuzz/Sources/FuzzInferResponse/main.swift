import ConfideKServe
import FuzzDriver

runFuzzer(KServeFuzz.inferResponse)
