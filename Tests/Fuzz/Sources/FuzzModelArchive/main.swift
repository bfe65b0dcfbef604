import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.modelArchive)
