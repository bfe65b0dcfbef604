import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.inferRequest)
