/// Entry points for fuzzers: each takes arbitrary bytes and must never trap.
public enum BertFuzz {
    /// Parses `bytes` as a safetensors file and, when that succeeds, reads every tensor's elements.
    public static func safetensors(_ bytes: [UInt8]) {
        guard let file = try? SafeTensors(bytes: bytes) else { return }
        for name in file.names {
            _ = file[name]?.floats()
            _ = file[name]?.float32
        }
    }

    /// Parses `bytes` as a `tokenizer.json`, and tokenizes them as text (as UTF-8 that is checked, and
    /// repaired) with a small built-in vocabulary.
    public static func tokenizer(_ bytes: [UInt8]) {
        if let parsed = try? BertTokenizer(tokenizerJSON: bytes, maxLength: 16) {
            _ = parsed.encode("Hello, [MASK] wörld! 日本")
        }
        guard let sample else { return }
        _ = bytes.withUnsafeBytes { try? sample.encode(utf8: $0) }
        _ = sample.encode(String(decoding: bytes, as: UTF8.self))
    }

    /// A tokenizer with a few dozen tokens, whole words and continuations, truncating at 32 tokens.
    private static let sample: BertTokenizer? = {
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        let letters = "abcdefghijklmnopqrstuvwxyz0123456789".map(String.init)
        let punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".map(String.init)
        let words = ["the", "un", "able", "hello", "world", "日", "本", "α", "é", "##ing", "##ly", "##s", "##é"]
        return try? BertTokenizer(
            vocabulary: specials + letters + letters.map { "##" + $0 } + punctuation + words, maxLength: 32)
    }()
}
