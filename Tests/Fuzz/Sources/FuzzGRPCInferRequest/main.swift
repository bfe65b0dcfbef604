import ConfideKServeGRPC
import FuzzDriver

runFuzzer(KServeGRPCFuzz.inferRequest)
