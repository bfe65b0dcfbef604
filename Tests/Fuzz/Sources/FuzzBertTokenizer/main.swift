import BertModel
import FuzzDriver

runFuzzer(BertFuzz.tokenizer)
