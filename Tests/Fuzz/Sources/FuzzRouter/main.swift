import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.route)
