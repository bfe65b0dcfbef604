import BertModel
import Testing

@Suite("Fuzz entry points")
struct FuzzTests {
    static func mutate(_ seed: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 1 where !bytes.isEmpty: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &random)...)
            case 2:
                bytes.insert(
                    UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0...bytes.count, using: &random))
            case 3 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random))
            default: bytes += bytes.prefix(Int.random(in: 0...16, using: &random))
            }
        }
        return bytes
    }

    @Test func safetensorsNeverTraps() {
        var random = SplitMix64(state: 1)
        let seed = SafeTensorsBuilder.valid
        for _ in 0..<3000 { BertFuzz.safetensors(Self.mutate(seed, &random)) }
        for _ in 0..<1000 {
            BertFuzz.safetensors(
                (0..<Int.random(in: 0..<64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
    }

    @Test func tokenizerNeverTraps() {
        var random = SplitMix64(state: 2)
        let tokenizerJSON = Array(
            """
            {"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,\
            "lowercase":true},"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"WordPiece","unk_token":"[UNK]",\
            "continuing_subword_prefix":"##","max_input_chars_per_word":5,"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3,"##b":4}},\
            "added_tokens":[{"id":0,"content":"[UNK]","normalized":false}]}
            """.utf8)
        let texts = ["", "Hello, [MASK] world!", "Café 日本語 😀 \u{0}\u{7}", "ᾂ\u{1D165}\u{0301}\u{1D16D}", "한국어 ภาษาไทย"]
        for _ in 0..<1500 { BertFuzz.tokenizer(Self.mutate(tokenizerJSON, &random)) }
        for _ in 0..<2000 { BertFuzz.tokenizer(Self.mutate(Array(texts.randomElement(using: &random)!.utf8), &random)) }
        for _ in 0..<1000 {
            BertFuzz.tokenizer(
                (0..<Int.random(in: 0..<256, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        for _ in 0..<500 {
            let scalars = (0..<Int.random(in: 0..<64, using: &random)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &random))
            }
            BertFuzz.tokenizer(Array(String(String.UnicodeScalarView(scalars)).utf8))
        }
    }
}
