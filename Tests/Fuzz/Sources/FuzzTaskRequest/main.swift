import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.taskRequest)
