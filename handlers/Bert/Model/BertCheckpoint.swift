import Foundation

/// Where a model's files come from: a folder on disk, or files a host holds in memory (a model from an
/// encrypted archive, whose files never touch the disk).
public struct BertModelFiles {
    /// Names the model's files in errors: the folder, or what the host says.
    public let origin: String
    fileprivate let read: (String) throws(BertModelError) -> [UInt8]?
    fileprivate let weights: () throws(BertModelError) -> SafeTensors

    /// The files in `folder`; `model.safetensors` is mapped, not read.
    public static func folder(_ folder: String) -> BertModelFiles {
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        return BertModelFiles(
            origin: folder,
            read: { name throws(BertModelError) in
                guard FileManager.default.fileExists(atPath: path(name)) else { return nil }
                guard let data = FileManager.default.contents(atPath: path(name)) else {
                    throw BertModelError(.io, "\(path(name)): cannot read")
                }
                return [UInt8](data)
            },
            weights: { () throws(BertModelError) in try SafeTensors(contentsOf: path("model.safetensors")) })
    }

    /// Files held in memory by name (relative paths such as `1_Pooling/config.json`); the caller keeps the bytes
    /// alive and unchanged while the model lives: the weights are used where they are, not copied.
    public static func memory(_ files: [String: UnsafeRawBufferPointer], origin: String) -> BertModelFiles {
        BertModelFiles(
            origin: origin,
            read: { name in files[name].map { Array($0) } },
            weights: { () throws(BertModelError) in
                guard let bytes = files["model.safetensors"] else {
                    throw BertModelError(.fileNotFound, "\(origin): model.safetensors is missing")
                }
                do throws(BertModelError) {
                    return try SafeTensors(borrowing: bytes)
                } catch {
                    throw BertModelError(error.code, "\(origin): model.safetensors: \(error.message)")
                }
            })
    }
}

/// A Hugging Face / sentence-transformers checkpoint of a BERT or DistilBERT model, loaded and checked:
/// `config.json`, `model.safetensors`, `tokenizer.json` (or `vocab.txt`), and the optional
/// `sentence_bert_config.json`, `1_Pooling/config.json` and `modules.json`.
public struct BertCheckpoint: Sendable {
    /// The encoder's configuration.
    public let config: BertConfig
    /// The task, labels and score function `config.json` declares.
    public let task: BertTaskConfig
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

    /// Loads and checks the model in the folder `path`.
    public init(path: String) throws(BertModelError) {
        try self.init(files: .folder(path))
    }

    /// Loads and checks the model in `files`.
    public init(files: BertModelFiles) throws(BertModelError) {
        func read(_ name: String) throws(BertModelError) -> [UInt8]? { try files.read(name) }
        func require(_ name: String) throws(BertModelError) -> [UInt8] {
            guard let bytes = try files.read(name) else {
                throw BertModelError(.fileNotFound, "\(files.origin): \(name) is missing")
            }
            return bytes
        }
        let configJSON = try require("config.json")
        let config = try BertConfig(json: configJSON)
        let task = try BertTaskConfig(json: configJSON)
        let sentence = try SentenceTransformersConfig(
            sentenceBertConfig: try read("sentence_bert_config.json"),
            poolingConfig: try read("1_Pooling/config.json"),
            modules: try read("modules.json"))
        let maxLength = min(sentence.maxSequenceLength ?? config.maxPositions, config.maxPositions)
        let tokenizer: BertTokenizer
        if let json = try read("tokenizer.json") {
            tokenizer = try BertTokenizer(tokenizerJSON: json, maxLength: maxLength)
        } else {
            let vocabulary = try require("vocab.txt")
            var options = BertTokenizer.Options()
            if let settings = try read("tokenizer_config.json"),
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
        let safeTensors = try files.weights()
        self.config = config
        self.task = task
        self.sentenceTransformers = sentence
        self.tokenizer = tokenizer
        self.safeTensors = safeTensors
        self.weights = try BertWeights(safeTensors, config: config)
    }

    /// The head of `task` (a classification task) in the weights file.
    public func head(for task: BertTaskConfig) throws(BertModelError) -> BertHeadWeights {
        try BertHeadWeights(safeTensors, weights: weights, config: config, task: task.task, labels: task.labels.count)
    }
}
