import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.cocoEvidence)
