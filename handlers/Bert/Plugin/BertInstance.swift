import BertModel
import ConfideJSON
import ConfideSDK

/// One worker's state: its scratch memory.
struct BertInstance: HandlerInstance {
    let model: Bert
    let scratch = Scratch()

    /// One request of a batch: where its sequences and tokens sit among the batch's, and how to answer it.
    private struct Job {
        let request: Request
        let reply: Reply
        /// The index of its first sequence in the batch.
        let first: Int
        /// Its number of sequences.
        let count: Int
        /// The index of its first token in the batch.
        let firstToken: Int
        /// Its texts and encodings, kept for token classification only.
        let texts: [[UInt8]]
        let encodings: [BertEncoding]
    }

    mutating func execute(_ batch: Batch) throws {
        let task = model.task.task
        let keepsEncodings = task == .tokenClassification
        var ids: [Int32] = []
        var types: [Int32] = []
        var lengths: [Int] = []
        var jobs: [Job] = []
        for request in batch {
            do {
                let input = try Self.parse(request, model: model)
                var encodings: [BertEncoding] = []
                for (index, text) in input.texts.enumerated() {
                    encodings.append(try model.tokenize(text, pair: input.pairs?[index], offsets: keepsEncodings))
                }
                jobs.append(
                    Job(
                        request: request, reply: input.reply, first: lengths.count, count: encodings.count,
                        firstToken: ids.count, texts: keepsEncodings ? input.texts : [],
                        encodings: keepsEncodings ? encodings : []))
                for encoding in encodings {
                    ids += encoding.ids
                    types += encoding.typeIDs
                    lengths.append(encoding.ids.count)
                }
            } catch {
                request.fail(HandlerError(wrapping: error))
            }
        }
        let model = self.model
        let width = model.encoder.width
        let answer: (Job) throws(HandlerError) -> Void
        switch (task, model.head) {
        case (.embedding, _):
            let embeddings = scratch.embeddings(count: lengths.count * width)
            try model.encoder.encode(ids, lengths: lengths, into: embeddings, scratch: scratch)
            answer = { job throws(HandlerError) in
                let range = (job.first * width)..<((job.first + job.count) * width)
                try job.reply.embeddings(
                    job.request, rows: UnsafeBufferPointer(rebasing: embeddings[range]), count: job.count, width: width)
                try Self.respondTokenCounts(job, lengths: lengths)
            }
        case (.classification, let head?):
            let states = scratch.embeddings(count: lengths.count * width)
            try model.encoder.encode(
                ids, types: types, lengths: lengths, readout: .first, into: states, scratch: scratch)
            let logits = head.logits(UnsafeBufferPointer(states), rows: lengths.count)
            let labels = head.labelCount
            answer = { job throws(HandlerError) in
                try job.reply.classification(
                    job.request, logits: logits[(job.first * labels)..<((job.first + job.count) * labels)],
                    count: job.count, task: model.task)
                try Self.respondTokenCounts(job, lengths: lengths)
            }
        case (.tokenClassification, let head?):
            let states = scratch.embeddings(count: ids.count * width)
            try model.encoder.encode(
                ids, types: types, lengths: lengths, readout: .tokens, into: states, scratch: scratch)
            let logits = head.logits(UnsafeBufferPointer(states), rows: ids.count)
            let labels = head.labelCount
            answer = { job throws(HandlerError) in
                let tokens = job.encodings.reduce(0) { $0 + $1.ids.count }
                let found = TokenLabels(
                    logits: logits[(job.firstToken * labels)..<((job.firstToken + tokens) * labels)],
                    encodings: job.encodings, texts: job.texts, tokenizer: model.tokenizer, labels: model.task.labels)
                try job.reply.tokens(job.request, found)
            }
        default:
            throw HandlerError.internal("the \(task.rawValue) model has no head")
        }
        for job in jobs {
            do {
                try answer(job)
            } catch {
                job.request.fail(error)
            }
        }
    }

    /// `token_count` (INT64 `[count]`: each sequence's tokens, [CLS] and [SEP] included, after truncation), for a
    /// KServe request that names it.
    private static func respondTokenCounts(_ job: Job, lengths: [Int]) throws(HandlerError) {
        guard case .kserve = job.reply, job.request.names(output: Embeddings.tokenCountOutput) else { return }
        let counts = lengths[job.first..<(job.first + job.count)].map { Int64($0) }
        try job.request.respond(
            Embeddings.tokenCountOutput, dataType: .int64, shape: [Int64(job.count)], elements: counts)
    }

    /// A request's texts (UTF-8), its second texts when it sends pairs, and how to answer it.
    static func parse(_ request: Request, model: Bert) throws(HandlerError)
        -> (texts: [[UInt8]], pairs: [[UInt8]]?, reply: Reply)
    {
        if let body = request.body {
            let parsed = try TorchServeBody.texts(Array(body), contentType: request.contentType)
            try check(pairs: parsed.pairs, texts: parsed.texts.count, model: model, name: "text_pair")
            return (parsed.texts, parsed.pairs, .torchServe(single: parsed.single))
        }
        let inputs = try request.inputs()
        let pairInput = inputs.first { $0.name == Classification.textPairInput }
        let candidates = inputs.filter { $0.dataType == .bytes && $0.name != Classification.textPairInput }
        guard
            let input = inputs.first(where: { $0.name == Classification.textInput })
                ?? (candidates.count == 1 ? candidates.first : nil)
        else {
            throw .invalidArgument("expected a BYTES input 'text' holding the texts")
        }
        let texts = try input.byteElements().map { Array($0) }
        let pairs = try pairInput?.byteElements().map { Array($0) }
        try check(pairs: pairs, texts: texts.count, model: model, name: "input 'text_pair'")
        return (texts, pairs, .kserve)
    }

    /// Refuses pairs the model cannot take, and pairs that do not match the texts one to one.
    private static func check(pairs: [[UInt8]]?, texts: Int, model: Bert, name: String) throws(HandlerError) {
        guard let pairs else { return }
        guard model.task.task == .classification else {
            throw .invalidArgument(
                "\(name): text pairs are for classification and reranking models; this model's task is "
                    + model.task.task.rawValue)
        }
        guard model.takesPairs else {
            throw .invalidArgument("\(name): this model has one token type, so it takes no text pairs")
        }
        guard pairs.count == texts else {
            throw .invalidArgument("\(name) holds \(pairs.count) texts and 'text' \(texts): they pair one to one")
        }
    }
}

/// How a request gets its answer back.
enum Reply {
    /// KServe: the tensors of the task's contract.
    case kserve
    /// TorchServe: a JSON body (one answer for a single text, else a list).
    case torchServe(single: Bool)

    /// Embeddings: KServe `embedding`, FP32 `[count, width]`; TorchServe a vector or a list of them.
    func embeddings(_ request: Request, rows: UnsafeBufferPointer<Float>, count: Int, width: Int) throws(HandlerError) {
        switch self {
        case .kserve:
            let out = try request.addOutput(
                name: "embedding", dataType: .fp32, shape: [Int64(count), Int64(width)], byteCount: rows.count * 4)
            if !rows.isEmpty { out.copyMemory(from: UnsafeRawBufferPointer(rows)) }
        case .torchServe(let single):
            var writer = JSONWriter(capacity: count * width * 12 + 16)
            if !single { writer.raw("[") }
            for row in 0..<count {
                if row > 0 { writer.raw(",") }
                writer.raw("[")
                for j in 0..<width {
                    if j > 0 { writer.raw(",") }
                    writer.number(rows[row * width + j])
                }
                writer.raw("]")
            }
            if !single { writer.raw("]") }
            try Self.body(request, writer.bytes)
        }
    }

    /// Classification: KServe `logits` and `probabilities` FP32 `[count, labels]`, `label` BYTES `[count]`, and
    /// `score` FP32 `[count]` for one label; TorchServe a label → probability object per text (the answer of its
    /// text classifier).
    func classification(
        _ request: Request, logits: ArraySlice<Float>, count: Int, task: BertTaskConfig
    ) throws(HandlerError) {
        let labels = task.labels.count
        var probabilities: [Float] = []
        probabilities.reserveCapacity(logits.count)
        var names: [String] = []
        for row in 0..<count {
            let start = logits.startIndex + row * labels
            let scores = TaskHead.probabilities(logits[start..<(start + labels)], function: task.function)
            probabilities += scores
            names.append(task.labels[TaskHead.argmax(scores)])
        }
        switch self {
        case .kserve:
            let shape = [Int64(count), Int64(labels)]
            try request.respond(Classification.logitsOutput, dataType: .fp32, shape: shape, elements: Array(logits))
            try request.respond(
                Classification.probabilitiesOutput, dataType: .fp32, shape: shape, elements: probabilities)
            try request.respond(Classification.labelOutput, strings: names)
            if labels == 1 {
                try request.respond(
                    Reranking.scoreOutput, dataType: .fp32, shape: [Int64(count)], elements: probabilities)
            }
        case .torchServe(let single):
            var writer = JSONWriter(capacity: count * labels * 24 + 16)
            if !single { writer.raw("[") }
            for row in 0..<count {
                if row > 0 { writer.raw(",") }
                writer.raw("{")
                for (index, label) in task.labels.enumerated() {
                    if index > 0 { writer.raw(",") }
                    writer.string(label)
                    writer.raw(":")
                    writer.number(probabilities[row * labels + index])
                }
                writer.raw("}")
            }
            if !single { writer.raw("]") }
            try Self.body(request, writer.bytes)
        }
    }

    /// Token classification: KServe `logits` FP32 `[count, longest, labels]` (zero-padded), `tokens` and `entities`
    /// BYTES `[count]` of JSON; TorchServe the entities (a list per text).
    func tokens(_ request: Request, _ found: TokenLabels) throws(HandlerError) {
        switch self {
        case .kserve:
            let count = found.encodings.count
            let labels = found.labels.count
            let longest = found.encodings.map(\.ids.count).max() ?? 0
            var logits = [Float](repeating: 0, count: count * longest * labels)
            var source = found.logits.startIndex
            for (index, encoding) in found.encodings.enumerated() {
                let values = encoding.ids.count * labels
                let target = index * longest * labels
                logits.replaceSubrange(target..<(target + values), with: found.logits[source..<(source + values)])
                source += values
            }
            try request.respond(
                TokenClassification.logitsOutput, dataType: .fp32,
                shape: [Int64(count), Int64(longest), Int64(labels)], elements: logits)
            try Self.respond(request, TokenClassification.tokensOutput, found.tokenJSON())
            try Self.respond(request, TokenClassification.entitiesOutput, found.entityJSON())
        case .torchServe(let single):
            let entities = found.entityJSON()
            if single, let first = entities.first { return try Self.body(request, first) }
            var body: [UInt8] = [UInt8(ascii: "[")]
            for (index, list) in entities.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body += list
            }
            body.append(UInt8(ascii: "]"))
            try Self.body(request, body)
        }
    }

    private static func respond(_ request: Request, _ name: String, _ elements: [[UInt8]]) throws(HandlerError) {
        let out = try request.addOutput(
            name: name, dataType: .bytes, shape: [Int64(elements.count)],
            byteCount: try BytesElements.encodedSize(elements))
        try BytesElements.encode(elements, into: out)
    }

    private static func body(_ request: Request, _ json: [UInt8]) throws(HandlerError) {
        try request.respond(body: json, contentType: "application/json")
    }
}

/// The texts of a TorchServe request body.
enum TorchServeBody {
    /// `{"text": "..."}` or a JSON string (one text), `{"text": [...]}` or a JSON list of strings (several), or,
    /// when the body is not JSON, the body itself as one text; an object may pair its texts with `"text_pair"` (a
    /// string or a list like `"text"`'s). A body is JSON when its content type says so (`application/json`,
    /// `…+json`), or, with a content type that is not `text/…`, when it starts with `{`, `[` or `"`; malformed JSON
    /// is an invalid-argument error.
    static func texts(_ body: [UInt8], contentType: String?) throws(HandlerError)
        -> (texts: [[UInt8]], pairs: [[UInt8]]?, single: Bool)
    {
        let type = contentType.flatMap(ContentType.init)
        let first = body.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        let isJSON: Bool
        if type?.isJSON == true {
            isJSON = true
        } else if type?.mediaType.hasPrefix("text/") == true {
            isJSON = false
        } else {
            isJSON = first.map { [UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\"")].contains($0) } ?? false
        }
        guard isJSON else { return ([body], nil, true) }
        let root: JSONValue
        do {
            root = try JSONParser.parse(body)
        } catch {
            throw .invalidArgument("the request body is not valid JSON: \(error)")
        }
        let (texts, single) = try strings(root.objectValue?["text"] ?? root, name: "text")
        guard let pairValue = root.objectValue?["text_pair"] else { return (texts, nil, single) }
        let (pairs, pairSingle) = try strings(pairValue, name: "text_pair")
        guard pairSingle == single else {
            throw .invalidArgument(#""text" and "text_pair" must both be strings or both be lists"#)
        }
        return (texts, pairs, single)
    }

    private static func strings(_ value: JSONValue, name: String) throws(HandlerError) -> ([[UInt8]], single: Bool) {
        if let text = value.stringValue { return ([Array(text.utf8)], true) }
        if let list = value.arrayValue {
            var texts: [[UInt8]] = []
            for element in list {
                guard let text = element.stringValue else {
                    throw .invalidArgument("a JSON list of texts must hold only strings, found \(element.kindName)")
                }
                texts.append(Array(text.utf8))
            }
            return (texts, false)
        }
        if name == "text" {
            throw .invalidArgument(#"expected {"text": "..."}, a JSON list of texts, or a plain-text body"#)
        }
        throw .invalidArgument(#""text_pair" must be a string or a list of strings"#)
    }
}
