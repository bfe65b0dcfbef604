import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.managementQuery)
