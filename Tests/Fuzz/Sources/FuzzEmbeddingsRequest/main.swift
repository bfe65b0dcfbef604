import ConfideServer
import FuzzDriver

runFuzzer(ServerFuzz.embeddingsRequest)
