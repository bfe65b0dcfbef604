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
        // The bytes as a pair of texts split in the middle, with offsets that must stay inside each text.
        let half = bytes.count / 2
        let first = String(decoding: bytes[..<half], as: UTF8.self)
        let second = String(decoding: bytes[half...], as: UTF8.self)
        let encoding = Array(first.utf8).withUnsafeBytes { a in
            Array(second.utf8).withUnsafeBytes { b in try? sample.encode(utf8: a, pair: b, offsets: true) }
        }
        if let encoding {
            precondition(encoding.ids.count <= sample.maxLength, "a pair exceeds the maximum length")
            let scalars = [first.unicodeScalars.count, second.unicodeScalars.count]
            for (offset, type) in zip(encoding.offsets, encoding.typeIDs) {
                precondition(offset.upperBound <= scalars[Int(type)], "an offset lies outside its text")
            }
        }
    }

    /// Parses `bytes` as a `config.json`: the encoder's shape and the task.
    public static func config(_ bytes: [UInt8]) {
        _ = try? BertConfig(json: bytes)
        _ = try? BertTaskConfig(json: bytes)
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
