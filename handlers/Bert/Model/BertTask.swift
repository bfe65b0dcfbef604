public import ConfideJSON

/// What a checkpoint computes on top of its encoder.
public enum BertTask: String, Sendable {
    /// Sentence embeddings: the pooled token states (`BertModel`, `DistilBertModel`).
    case embedding
    /// One set of label scores per text or text pair (`…ForSequenceClassification`; a cross-encoder for reranking
    /// when it has one label).
    case classification
    /// One set of label scores per token (`…ForTokenClassification`).
    case tokenClassification = "token_classification"
}

/// How classification logits become the scores reported as probabilities.
public enum BertScoreFunction: String, Sendable {
    /// Softmax over the labels (`single_label_classification`).
    case softmax
    /// A sigmoid per label (`multi_label_classification`).
    case sigmoid
    /// The logits themselves (`regression`).
    case none
}

/// A checkpoint's task, labels and score function: from `config.json` (`architectures`, `id2label`,
/// `num_labels`, `problem_type`), overridable under `model.json`'s `parameters` (`task`, `labels`,
/// `problem_type`).
public struct BertTaskConfig: Sendable, Equatable {
    /// The task.
    public var task: BertTask
    /// The label of each class, by class index (empty for embeddings).
    public var labels: [String]
    /// How logits become probabilities.
    public var function: BertScoreFunction

    /// The most labels a head may have.
    public static let maxLabels = 1 << 16

    /// Creates a task configuration.
    public init(task: BertTask, labels: [String] = [], function: BertScoreFunction = .softmax) {
        self.task = task
        self.labels = labels
        self.function = function
    }

    /// Reads the task from the text of a `config.json`. The first entry of `architectures` decides the task
    /// (`…Model`, `…ForMaskedLM` and `…ForPreTraining` are encoders, so embeddings; no `architectures` is an
    /// embedding model too); the labels come from `id2label` (`LABEL_i` for `num_labels` labels when absent, two
    /// when neither is given, as transformers does); the score function from `problem_type`, else sigmoid for one
    /// label and softmax for more, as transformers' text-classification pipeline chooses.
    public init(json bytes: some Collection<UInt8>) throws(BertModelError) {
        let object = try ConfigObject(bytes, file: "config.json")
        var task = BertTask.embedding
        if let value = object["architectures"] {
            guard let list = value.arrayValue else {
                throw .malformedConfig("config.json: architectures is \(value.kindName), not an array")
            }
            if let first = list.first {
                guard let name = first.stringValue else {
                    throw .malformedConfig("config.json: architectures holds \(first.kindName), not strings")
                }
                task = try Self.task(architecture: name)
            }
        }
        var labels: [String]
        if let id2label = try object.object("id2label") {
            labels = try Self.labels(id2label)
            if let count = try object.int("num_labels"), count != labels.count {
                throw .malformedConfig(
                    "config.json: num_labels \(count) differs from the \(labels.count) labels of id2label")
            }
        } else {
            let count = try object.int("num_labels") ?? 2
            guard count >= 1, count <= Self.maxLabels else {
                throw .malformedConfig("config.json: num_labels \(count) is outside 1...\(Self.maxLabels)")
            }
            labels = (0..<count).map { "LABEL_\($0)" }
        }
        if task == .embedding { labels = [] }
        let function = try Self.function(problemType: try object.string("problem_type"), labels: labels.count)
        self.init(task: task, labels: labels, function: task == .tokenClassification ? .softmax : function)
    }

    /// This configuration with the overrides of `model.json`'s `parameters`: `"task"` (`"embedding"`,
    /// `"classification"`, `"token_classification"`), `"labels"` (a list of strings, one per class) and
    /// `"problem_type"` (as in `config.json`).
    public func overriding(_ parameters: JSONObject?) throws(BertModelError) -> BertTaskConfig {
        guard let parameters else { return self }
        var result = self
        if let value = parameters["task"] {
            guard let name = value.stringValue, let task = BertTask(rawValue: name) else {
                throw .malformedConfig(
                    #"model.json: "task" must be "embedding", "classification" or "token_classification""#)
            }
            result.task = task
        }
        if let value = parameters["labels"] {
            guard let list = value.arrayValue, !list.isEmpty, list.count <= Self.maxLabels else {
                throw .malformedConfig(#"model.json: "labels" must be a list of 1 to 65536 strings"#)
            }
            var labels: [String] = []
            for element in list {
                guard let label = element.stringValue else {
                    throw .malformedConfig(#"model.json: "labels" must hold only strings"#)
                }
                labels.append(label)
            }
            guard labels.count == self.labels.count || self.labels.isEmpty else {
                throw .malformedConfig(
                    "model.json: \"labels\" names \(labels.count) labels, the checkpoint has \(self.labels.count)")
            }
            result.labels = labels
        }
        if let value = parameters["problem_type"] {
            guard let name = value.stringValue else {
                throw .malformedConfig(#"model.json: "problem_type" must be a string"#)
            }
            result.function = try Self.function(problemType: name, labels: result.labels.count)
        }
        if result.task == .tokenClassification { result.function = .softmax }
        if result.task != .embedding, result.labels.isEmpty {
            throw .malformedConfig(
                "model.json: the task \(result.task.rawValue) needs labels, and the checkpoint has none")
        }
        if result.task == .embedding { result.labels = [] }
        return result
    }

    private static func task(architecture: String) throws(BertModelError) -> BertTask {
        if architecture.hasSuffix("ForSequenceClassification") { return .classification }
        if architecture.hasSuffix("ForTokenClassification") { return .tokenClassification }
        if architecture.hasSuffix("Model") || architecture.hasSuffix("ForMaskedLM")
            || architecture.hasSuffix("ForPreTraining")
        {
            return .embedding
        }
        throw .unsupported(
            "config.json: architecture \(architecture) is not supported (…Model, …ForSequenceClassification, "
                + "…ForTokenClassification)")
    }

    /// `id2label`'s values by index; the keys must be exactly 0..<count.
    private static func labels(_ id2label: ConfigObject) throws(BertModelError) -> [String] {
        let count = id2label.keys.count
        guard count >= 1, count <= maxLabels else {
            throw .malformedConfig("config.json: id2label has \(count) labels, outside 1...\(maxLabels)")
        }
        var labels = [String?](repeating: nil, count: count)
        for key in id2label.keys {
            guard let index = Int(key), index >= 0, index < count, labels[index] == nil else {
                throw .malformedConfig(
                    "config.json: id2label's keys must be the integers 0 to \(count - 1), found \"\(key)\"")
            }
            guard let label = try id2label.string(key) else {
                throw .malformedConfig("config.json: id2label \"\(key)\" has no label")
            }
            labels[index] = label
        }
        return labels.map { $0 ?? "" }
    }

    private static func function(problemType: String?, labels: Int) throws(BertModelError) -> BertScoreFunction {
        switch problemType {
        case nil: return labels == 1 ? .sigmoid : .softmax
        case "single_label_classification": return .softmax
        case "multi_label_classification": return .sigmoid
        case "regression": return .none
        case let other?:
            throw .unsupported(
                "problem_type \"\(other)\" is not one of single_label_classification, multi_label_classification, "
                    + "regression")
        }
    }
}
