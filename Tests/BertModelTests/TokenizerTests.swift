import BertModel
import Foundation
import Testing

@Suite("Tokenizer")
struct TokenizerTests {
    /// A tokenizer with a handful of tokens.
    static let small: BertTokenizer = {
        let vocabulary = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##able", "##aff", "##ord", "!",
            ",", "cafe", "a", "##b", "日", "$",
        ]
        do {
            return try BertTokenizer(vocabulary: vocabulary, maxLength: 8)
        } catch {
            fatalError("the test vocabulary is invalid: \(error)")
        }
    }()

    func tokens(_ text: String, _ tokenizer: BertTokenizer = small) -> [Int32] { tokenizer.encode(text) }

    @Test func wordPieceAndSpecialTokens() {
        #expect(tokens("") == [2, 3])
        #expect(tokens("Hello, WORLD!") == [2, 5, 12, 6, 11, 3])
        #expect(tokens("unaffordable") == [2, 7, 9, 10, 8, 3])
        #expect(tokens("Café") == [2, 13, 3])
        #expect(tokens("abbb") == [2, 14, 15, 15, 15, 3])
        #expect(tokens("abc") == [2, 1, 3])
        #expect(tokens("hello[MASK]world [mask]") == [2, 5, 4, 6, 1, 1, 1, 3])
        #expect(tokens("日日") == [2, 16, 16, 3])
        #expect(tokens("$hello\u{0}\u{7}\u{FFFD}\u{200B}world") == [2, 17, 1, 3])
        #expect(tokens("$hello\u{0}\u{7}\u{FFFD}\u{3000}world\u{85}") == [2, 17, 5, 6, 3])
    }

    @Test func truncatesToMaxLength() {
        let ids = tokens(String(repeating: "hello ", count: 100))
        #expect(ids.count == 8)
        #expect(ids.first == 2 && ids.last == 3)
        #expect(tokens("hello unaffordable") == [2, 5, 7, 9, 10, 8, 3])
        #expect(tokens("hello hello unaffordable") == [2, 5, 5, 7, 9, 10, 8, 3])
        #expect(tokens("hello hello hello unaffordable") == [2, 5, 5, 5, 7, 9, 10, 3])
    }

    @Test func longWordsAreUnknown() {
        #expect(tokens(String(repeating: "b", count: 100)) == [2, 1, 3])
        #expect(tokens("a" + String(repeating: "b", count: 99)).count == 8)
        #expect(tokens("a" + String(repeating: "b", count: 100)) == [2, 1, 3])
    }

    @Test func checksUTF8AndPacks() throws {
        #expect(throws: BertModelError.self) { try [0xC3, 0x28].withUnsafeBytes { try Self.small.encode(utf8: $0) } }
        #expect(try Array("hello".utf8).withUnsafeBytes { try Self.small.encode(utf8: $0) } == [2, 5, 3])
        var packed: [Int32] = []
        #expect(Self.small.encode("hello", appendingTo: &packed) == 3)
        #expect(Self.small.encode("world!", appendingTo: &packed) == 4)
        #expect(packed == [2, 5, 3, 2, 6, 11, 3])
    }

    @Test func rejectsBadVocabularies() {
        #expect(throws: BertModelError.self) { try BertTokenizer(vocabulary: ["[UNK]", "[CLS]"], maxLength: 8) }
        #expect(throws: BertModelError.self) {
            try BertTokenizer(vocabulary: ["[UNK]", "[CLS]", "[SEP]", "[UNK]"], maxLength: 8)
        }
        #expect(throws: BertModelError.self) {
            try BertTokenizer(vocabulary: ["[UNK]", "[CLS]", "[SEP]"], maxLength: 1)
        }
        #expect(throws: BertModelError.self) { try BertTokenizer(tokenizerJSON: Array("{}".utf8), maxLength: 8) }
    }

    @Test(
        .enabled(if: Fixtures.modelTestsEnabled, Fixtures.modelAbsent),
        .enabled(if: Fixtures.referencePresent, Fixtures.referenceAbsent))
    func matchesHuggingFaceOnEveryReferenceText() throws {
        let folder = try BertCheckpoint(path: Fixtures.modelFolder)
        #expect(folder.maxSequenceLength == 256)
        #expect(folder.tokenizer.vocabularySize == 30522)
        let rows = try Fixtures.referenceRows()
        #expect(rows.count == 198)
        var matching = 0
        for (index, row) in rows.enumerated() {
            let ids = folder.tokenizer.encode(row.text)
            if ids == row.ids {
                matching += 1
            } else {
                Issue.record(
                    "row \(index) \(row.text.debugDescription.prefix(80)): got \(ids.prefix(40)), expected \(row.ids.prefix(40))"
                )
            }
        }
        #expect(matching == rows.count, "\(matching) of \(rows.count) rows match")
    }

    @Test(.enabled(if: Fixtures.modelTestsEnabled, Fixtures.modelAbsent))
    func realTokenizerEdgeCases() throws {
        let tokenizer = try BertTokenizer(tokenizerJSON: try Fixtures.file("tokenizer.json"), maxLength: 256)
        #expect(tokenizer.encode("[CLS][SEP] [MASK]") == [101, 101, 102, 103, 102])
        #expect(tokenizer.encode(String(repeating: "😀", count: 100_000)) == [101, 100, 102])
        #expect(tokenizer.encode(String(repeating: "a ", count: 1_000_000)).count == 256)
        let zalgo = "e" + String(repeating: "\u{0301}\u{0316}\u{1D165}", count: 1000)
        #expect(tokenizer.encode(zalgo).count >= 3)
    }
}
