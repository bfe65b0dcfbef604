import Foundation

/// A Hugging Face / sentence-transformers model folder, loaded and checked: `config.json`, `model.safetensors`
/// (mapped, not read), `tokenizer.json` (or `vocab.txt`), and the optional `sentence_bert_config.json`,
/// `1_Pooling/config.json` and `modules.json`.
public struct BertModelFolder: Sendable {
    /// The folder.
    public let path: String
    /// The encoder's configuration.
    public let config: BertConfig
    /// The sentence-transformers settings.
    public let sentenceTransformers: SentenceTransformersConfig
    /// The tokenizer, truncating to ``maxSequenceLength``.
    public let tokenizer: BertTokenizer
    /// The mapped weights file.
    public let safeTensors: SafeTensors
    /// The encoder's tensors, checked against ``config``.
    public let weights: BertWeights

    /// The most tokens per text, [CLS] and [SEP] included: `max_seq_length`, at most the model's positions.
    public var maxSequenceLength: Int { tokenizer.maxLength }

    /// Loads and checks the model in `path`.
    public init(path: String) throws(BertModelError) {
        self.path = path
        let config = try BertConfig(json: try Self.read(path, "config.json"))
        let sentence = try SentenceTransformersConfig(
            sentenceBertConfig: try Self.read(path, "sentence_bert_config.json", optional: true),
            poolingConfig: try Self.read(path, "1_Pooling/config.json", optional: true),
            modules: try Self.read(path, "modules.json", optional: true))
        let maxLength = min(sentence.maxSequenceLength ?? config.maxPositions, config.maxPositions)
        let tokenizer: BertTokenizer
        if let json = try Self.read(path, "tokenizer.json", optional: true) {
            tokenizer = try BertTokenizer(tokenizerJSON: json, maxLength: maxLength)
        } else {
            let vocabulary = try Self.read(path, "vocab.txt")
            var options = BertTokenizer.Options()
            if let settings = try Self.read(path, "tokenizer_config.json", optional: true),
                let lowercase = try ConfigObject(settings, file: "tokenizer_config.json").bool("do_lower_case")
            {
                options.lowercase = lowercase
                options.stripAccents = lowercase
            }
            let lines = String(decoding: vocabulary, as: UTF8.self).split(
                separator: "\n", omittingEmptySubsequences: false)
            let tokens = lines.map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) }
            tokenizer = try BertTokenizer(
                vocabulary: tokens.last == "" ? Array(tokens.dropLast()) : tokens, options: options,
                maxLength: maxLength)
        }
        let safeTensors = try SafeTensors(contentsOf: (path as NSString).appendingPathComponent("model.safetensors"))
        self.config = config
        self.sentenceTransformers = sentence
        self.tokenizer = tokenizer
        self.safeTensors = safeTensors
        self.weights = try BertWeights(safeTensors, config: config)
    }

    private static func read(_ folder: String, _ name: String) throws(BertModelError) -> [UInt8] {
        guard let bytes = try read(folder, name, optional: false) else {
            throw BertModelError(.fileNotFound, "\(folder): \(name) is missing")
        }
        return bytes
    }

    private static func read(_ folder: String, _ name: String, optional: Bool) throws(BertModelError) -> [UInt8]? {
        let path = (folder as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else {
            if optional { return nil }
            throw BertModelError(.fileNotFound, "\(folder): \(name) is missing")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BertModelError(.io, "\(path): cannot read")
        }
        return [UInt8](data)
    }
}
