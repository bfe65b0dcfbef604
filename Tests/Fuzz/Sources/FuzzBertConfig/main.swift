import BertModel
import FuzzDriver

runFuzzer(BertFuzz.config)
