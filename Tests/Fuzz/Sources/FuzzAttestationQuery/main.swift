import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.attestationQuery)
