import BertModel
import ConfideJSON

/// The labelled tokens of a request's texts, and the entities they form, as transformers' token-classification
/// pipeline reports them: tokens found in the text only ([CLS] and [SEP] left out), each with the label of its
/// highest softmax score, that score, and its span in the text in Unicode scalars; an unknown token is written as
/// the text it covers.
struct TokenLabels {
    /// One labelled token.
    struct Token {
        let index: Int
        let word: String
        let label: Int
        let score: Float
        let start: Int
        let end: Int
    }

    /// The logits of every token of every text, one after the other (`labels.count` per token).
    let logits: ArraySlice<Float>
    let encodings: [BertEncoding]
    let texts: [[UInt8]]
    let tokenizer: BertTokenizer
    let labels: [String]

    /// Each text's labelled tokens.
    func tokens() -> [[Token]] {
        let count = labels.count
        var row = logits.startIndex
        var result: [[Token]] = []
        for (encoding, text) in zip(encodings, texts) {
            let scalars = Array(String(decoding: text, as: UTF8.self).unicodeScalars)
            var tokens: [Token] = []
            for index in encoding.ids.indices {
                defer { row += count }
                guard !encoding.specialTokens[index], index < encoding.offsets.count else { continue }
                let scores = TaskHead.probabilities(logits[row..<(row + count)], function: .softmax)
                let best = TaskHead.argmax(scores)
                let span = encoding.offsets[index]
                let id = encoding.ids[index]
                var word = tokenizer.token(for: id) ?? ""
                if id == tokenizer.unknownID {
                    let lower = min(max(span.lowerBound, 0), scalars.count)
                    let upper = min(max(span.upperBound, lower), scalars.count)
                    word = String(String.UnicodeScalarView(scalars[lower..<upper]))
                }
                tokens.append(
                    Token(
                        index: index, word: word, label: best, score: scores[best], start: span.lowerBound,
                        end: span.upperBound))
            }
            result.append(tokens)
        }
        return result
    }

    /// Each text's tokens as a JSON array of `{"index", "token", "label", "score", "start", "end"}`.
    func tokenJSON() -> [[UInt8]] {
        tokens().map { tokens in
            var writer = JSONWriter(capacity: tokens.count * 80 + 2)
            writer.raw("[")
            for (position, token) in tokens.enumerated() {
                if position > 0 { writer.raw(",") }
                writer.raw(#"{"index":"#)
                writer.integer(token.index)
                writer.raw(#","token":"#)
                writer.string(token.word)
                writer.raw(#","label":"#)
                writer.string(labels[token.label])
                writer.raw(#","score":"#)
                writer.number(token.score)
                writer.raw(#","start":"#)
                writer.integer(token.start)
                writer.raw(#","end":"#)
                writer.integer(token.end)
                writer.raw("}")
            }
            writer.raw("]")
            return writer.bytes
        }
    }

    /// Each text's entities as a JSON array of `{"entity_group", "score", "word", "start", "end"}`, grouped as the
    /// pipeline's `aggregation_strategy="simple"` does: a token joins the group before it when its tag (the label
    /// without `B-`/`I-`) is the group's and its label does not start with `B-`; a group's score is the mean of its
    /// tokens', its word the tokens joined by the WordPiece decoder; groups tagged `O` are left out.
    func entityJSON() -> [[UInt8]] {
        tokens().map { tokens in
            var groups: [[Token]] = []
            for token in tokens {
                let (begins, tag) = Self.tag(labels[token.label])
                if let last = groups.last?.last, Self.tag(labels[last.label]).tag == tag, !begins {
                    groups[groups.count - 1].append(token)
                } else {
                    groups.append([token])
                }
            }
            var writer = JSONWriter(capacity: groups.count * 96 + 2)
            writer.raw("[")
            var written = 0
            for group in groups {
                guard let first = group.first, let last = group.last else { continue }
                let tag = Self.tag(labels[first.label]).tag
                guard tag != "O" else { continue }
                if written > 0 { writer.raw(",") }
                written += 1
                let score = group.reduce(Float(0)) { $0 + $1.score } / Float(group.count)
                writer.raw(#"{"entity_group":"#)
                writer.string(tag)
                writer.raw(#","score":"#)
                writer.number(score)
                writer.raw(#","word":"#)
                writer.string(tokenizer.decode(group.map(\.word)))
                writer.raw(#","start":"#)
                writer.integer(first.start)
                writer.raw(#","end":"#)
                writer.integer(last.end)
                writer.raw("}")
            }
            writer.raw("]")
            return writer.bytes
        }
    }

    /// Whether `label` begins an entity (`B-…`), and its tag: the label without `B-` or `I-`.
    private static func tag(_ label: String) -> (begins: Bool, tag: String) {
        if label.hasPrefix("B-") { return (true, String(label.dropFirst(2))) }
        if label.hasPrefix("I-") { return (false, String(label.dropFirst(2))) }
        return (false, label)
    }
}
