import BertModel
import FuzzDriver

runFuzzer(BertFuzz.safetensors)
