import ConfideJSON
import Foundation

/// BERT's WordPiece tokenizer, exactly as Hugging Face's `tokenizers` library runs it for a `tokenizer.json` with
/// a `BertNormalizer`, a `BertPreTokenizer` and a `WordPiece` model:
///
/// 1. Special tokens (`[CLS]`, `[SEP]`, `[MASK]`, ...) written in the text are matched first, on the raw text,
///    and become their own ids.
/// 2. Normalisation: drop NUL, U+FFFD and control characters (categories Cc, Cf, Co; tab, newline and
///    carriage return count as whitespace), turn whitespace into spaces, put spaces around CJK ideographs,
///    strip accents (canonical decomposition, then drop non-spacing marks) and lower-case, as configured.
/// 3. Pre-tokenisation: split on whitespace, and isolate each punctuation character (ASCII punctuation and the
///    Unicode P* categories).
/// 4. WordPiece: greedy longest match from the left, later pieces with the `##` prefix; a word longer than
///    `max_input_chars_per_word` characters, or one that cannot be covered, becomes `[UNK]`.
/// 5. `[CLS]` and `[SEP]` around the first `maxLength - 2` tokens.
///
/// Any text is valid input. The tokenizer is immutable and can be shared by threads; encoding allocates no
/// `String` for ASCII text and stops reading once `maxLength` tokens are found.
public struct BertTokenizer: Sendable {
    /// The tokenizer's settings.
    public struct Options: Sendable, Equatable {
        /// Drop control characters and turn whitespace into spaces (`clean_text`).
        public var cleanText = true
        /// Put spaces around CJK ideographs (`handle_chinese_chars`).
        public var handleChineseCharacters = true
        /// Decompose and drop non-spacing marks (`strip_accents`; by default the same as `lowercase`).
        public var stripAccents = true
        /// Lower-case (`lowercase`).
        public var lowercase = true
        /// The token for words the vocabulary cannot cover.
        public var unknownToken = "[UNK]"
        /// The prefix of pieces that continue a word.
        public var continuingSubwordPrefix = "##"
        /// Longer words (in Unicode scalars, after normalisation) become the unknown token.
        public var maxInputCharactersPerWord = 100
        /// The token that starts every sequence.
        public var classToken = "[CLS]"
        /// The token that ends every sequence.
        public var separatorToken = "[SEP]"
        /// Tokens matched in the raw text before normalisation.
        public var specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

        /// The settings of `bert-base-uncased`-style models.
        public init() {}
    }

    /// The settings.
    public let options: Options
    /// The most ids ``encode(_:)`` returns, [CLS] and [SEP] included.
    public let maxLength: Int
    /// The id of the token that starts every sequence.
    public let classID: Int32
    /// The id of the token that ends every sequence.
    public let separatorID: Int32
    /// The id of the unknown token.
    public let unknownID: Int32
    private let vocabulary: Vocabulary
    /// Special tokens matched in raw text, longest first.
    private let specials: [(bytes: [UInt8], id: Int32)]
    /// Whether a byte starts some special token.
    private let specialStarts: [Bool]

    /// The number of tokens in the vocabulary.
    public var vocabularySize: Int { vocabulary.count }

    /// Reads a Hugging Face `tokenizer.json`. `maxLength` is the longest sequence to produce, [CLS] and [SEP]
    /// included (sentence-transformers' `max_seq_length`; the file's own `truncation` and `padding` are not used).
    public init(tokenizerJSON bytes: some Collection<UInt8>, maxLength: Int) throws(BertModelError) {
        let file = "tokenizer.json"
        let root = try ConfigObject(bytes, file: file)
        var options = Options()

        if let normalizer = try root.object("normalizer") {
            guard try normalizer.string("type") == "BertNormalizer" else {
                throw .unsupported("\(file): only a BertNormalizer is supported")
            }
            options.cleanText = try normalizer.bool("clean_text") ?? true
            options.handleChineseCharacters = try normalizer.bool("handle_chinese_chars") ?? true
            options.lowercase = try normalizer.bool("lowercase") ?? true
            options.stripAccents = try normalizer.bool("strip_accents") ?? options.lowercase
        } else {
            options.cleanText = false
            options.handleChineseCharacters = false
            options.lowercase = false
            options.stripAccents = false
        }
        guard let preTokenizer = try root.object("pre_tokenizer"), try preTokenizer.string("type") == "BertPreTokenizer"
        else {
            throw .unsupported("\(file): only a BertPreTokenizer is supported")
        }
        guard let model = try root.object("model"), try model.string("type") == "WordPiece" else {
            throw .unsupported("\(file): only a WordPiece model is supported")
        }
        options.unknownToken = try model.string("unk_token") ?? options.unknownToken
        options.continuingSubwordPrefix =
            try model.string("continuing_subword_prefix") ?? options.continuingSubwordPrefix
        options.maxInputCharactersPerWord =
            try model.int("max_input_chars_per_word") ?? options.maxInputCharactersPerWord
        guard let vocab = try model.object("vocab") else { throw .malformedConfig("\(file): model.vocab is missing") }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.keys.count)
        for token in vocab.keys {
            guard let id = try vocab.int(token) else {
                throw .malformedConfig("\(file): model.vocab \"\(token)\" has no id")
            }
            entries.append((token, id))
        }

        options.specialTokens = []
        if let added = root["added_tokens"] {
            guard let list = added.arrayValue else { throw .malformedConfig("\(file): added_tokens is not an array") }
            for element in list {
                guard let object = element.objectValue, let content = object["content"]?.stringValue,
                    let id = object["id"]?.int64Value
                else {
                    throw .malformedConfig("\(file): an added token needs a string \"content\" and an integer \"id\"")
                }
                for flag in ["single_word", "lstrip", "rstrip", "normalized"] where object[flag]?.boolValue == true {
                    throw .unsupported("\(file): added token \"\(content)\" sets \(flag), which is not supported")
                }
                guard entries.contains(where: { $0.0 == content && Int64($0.1) == id }) else {
                    throw .unsupported("\(file): added token \"\(content)\" (id \(id)) is not in the vocabulary")
                }
                options.specialTokens.append(content)
            }
        }

        if let processor = try root.object("post_processor") {
            switch try processor.string("type") {
            case "TemplateProcessing":
                let single = processor["single"]?.arrayValue ?? []
                let ids = single.map { $0.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue }
                let sequence =
                    single.count == 3 ? single[1].objectValue?["Sequence"]?.objectValue?["id"]?.stringValue : nil
                guard single.count == 3, let first = ids[0], let last = ids[2], sequence == "A" else {
                    throw .unsupported("\(file): post_processor.single must be [special token, $A, special token]")
                }
                options.classToken = first
                options.separatorToken = last
            case "BertProcessing":
                guard let cls = processor["cls"]?.arrayValue?.first?.stringValue,
                    let sep = processor["sep"]?.arrayValue?.first?.stringValue
                else { throw .malformedConfig("\(file): post_processor needs \"cls\" and \"sep\"") }
                options.classToken = cls
                options.separatorToken = sep
            default:
                throw .unsupported("\(file): only TemplateProcessing and BertProcessing post-processors are supported")
            }
        }
        try self.init(entries: entries, options: options, maxLength: maxLength, file: file)
    }

    /// Builds a tokenizer from a vocabulary in id order (the lines of a `vocab.txt`).
    public init(vocabulary: [String], options: Options = Options(), maxLength: Int) throws(BertModelError) {
        try self.init(
            entries: vocabulary.enumerated().map { ($0.element, $0.offset) }, options: options,
            maxLength: maxLength, file: "vocabulary")
    }

    private init(entries: [(String, Int)], options: Options, maxLength: Int, file: String) throws(BertModelError) {
        guard maxLength >= 2, maxLength <= 1 << 20 else {
            throw .malformedConfig("\(file): the maximum length \(maxLength) is outside 2...\(1 << 20)")
        }
        guard options.maxInputCharactersPerWord >= 1, options.maxInputCharactersPerWord <= 10_000 else {
            throw .malformedConfig(
                "\(file): max_input_chars_per_word \(options.maxInputCharactersPerWord) is outside 1...10000")
        }
        var vocabulary = Vocabulary(capacity: entries.count)
        for (token, id) in entries {
            guard id >= 0, id <= Int(Int32.max) else {
                throw .malformedConfig("\(file): token \"\(token)\" has id \(id)")
            }
            guard vocabulary.insert(token, id: Int32(id), continuationPrefix: options.continuingSubwordPrefix) else {
                throw .malformedConfig("\(file): token \"\(token)\" appears twice")
            }
        }
        func id(_ token: String, _ role: String) throws(BertModelError) -> Int32 {
            guard let id = vocabulary.find(Array(token.utf8), continuation: false) else {
                throw .malformedConfig("\(file): the \(role) token \"\(token)\" is not in the vocabulary")
            }
            return id
        }
        self.unknownID = try id(options.unknownToken, "unknown")
        self.classID = try id(options.classToken, "class")
        self.separatorID = try id(options.separatorToken, "separator")
        var specials: [(bytes: [UInt8], id: Int32)] = []
        var starts = Array(repeating: false, count: 256)
        for token in options.specialTokens where !token.isEmpty {
            specials.append((Array(token.utf8), try id(token, "special")))
            starts[Int(token.utf8.first ?? 0)] = true
        }
        specials.sort { $0.bytes.count > $1.bytes.count }
        self.specials = specials
        self.specialStarts = starts
        self.vocabulary = vocabulary
        self.options = options
        self.maxLength = maxLength
    }

    /// The id of a token of the vocabulary, written in full (`"##ing"` for a continuation).
    public func id(of token: String) -> Int32? { vocabulary.find(Array(token.utf8), continuation: false) }

    /// The ids of `text`: [CLS], at most `maxLength - 2` tokens, [SEP].
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        encode(text, appendingTo: &ids)
        return ids
    }

    /// The ids of UTF-8 `bytes`, or an error when they are not valid UTF-8.
    public func encode(utf8 bytes: UnsafeRawBufferPointer) throws(BertModelError) -> [Int32] {
        let bytes = bytes.assumingMemoryBound(to: UInt8.self)
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        scan: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: break scan
            case .error: throw BertModelError(.invalidUTF8, "the text is not valid UTF-8")
            }
        }
        var ids: [Int32] = []
        encode(validUTF8: bytes, appendingTo: &ids)
        return ids
    }

    /// Appends the ids of `text` ([CLS], at most `maxLength - 2` tokens, [SEP]) to `ids`, and returns how many
    /// it appended: for packing the tokens of a batch into one buffer.
    @discardableResult
    public func encode(_ text: String, appendingTo ids: inout [Int32]) -> Int {
        var text = text
        return text.withUTF8 { encode(validUTF8: $0, appendingTo: &ids) }
    }

    @discardableResult
    private func encode(validUTF8 bytes: UnsafeBufferPointer<UInt8>, appendingTo ids: inout [Int32]) -> Int {
        let before = ids.count
        ids.append(classID)
        let maxChars = options.maxInputCharactersPerWord
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4 * maxChars) { wordBytes in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: maxChars + 1) { offsets in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxChars) { pieces in
                    var encoder = WordPieceEncoder(
                        tokenizer: self, ids: ids, budget: before + maxLength - 1, wordBytes: wordBytes,
                        offsets: offsets, pieces: pieces)
                    ids = []
                    encoder.run(bytes)
                    ids = encoder.ids
                }
            }
        }
        ids.append(separatorID)
        return ids.count - before
    }

    fileprivate func lookup(_ piece: UnsafeBufferPointer<UInt8>, continuation: Bool) -> Int32? {
        vocabulary.find(piece, continuation: continuation)
    }

    fileprivate var maximumPieceLength: Int { vocabulary.maximumKeyLength }

    /// The id of the special token that starts at `position`, and its length, if one does.
    fileprivate func special(in bytes: UnsafeBufferPointer<UInt8>, at position: Int) -> (id: Int32, length: Int)? {
        guard specialStarts[Int(bytes[position])] else { return nil }
        for special in specials where special.bytes.count <= bytes.count - position {
            var match = true
            for index in 0..<special.bytes.count where bytes[position + index] != special.bytes[index] {
                match = false
                break
            }
            if match { return (special.id, special.bytes.count) }
        }
        return nil
    }
}

/// One encoding in progress: the normaliser, pre-tokeniser and WordPiece model run as a single pass over the
/// text's scalars, writing the current word into fixed scratch buffers.
private struct WordPieceEncoder {
    let tokenizer: BertTokenizer
    let options: BertTokenizer.Options
    var ids: [Int32]
    /// `ids.count` at which the text's tokens stop (the place of the final [SEP]).
    let budget: Int
    /// The current word's UTF-8 bytes (only while it has at most `maxChars` scalars).
    let wordBytes: UnsafeMutableBufferPointer<UInt8>
    /// The byte offset of each scalar of the current word, and its end.
    let offsets: UnsafeMutableBufferPointer<Int>
    /// The pieces of the current word.
    let pieces: UnsafeMutableBufferPointer<Int32>
    let maxChars: Int
    var wordChars = 0
    var wordByteCount = 0
    /// Non-starters waiting for canonical ordering (only when stripping accents).
    var pendingMarks: [Unicode.Scalar] = []

    init(
        tokenizer: BertTokenizer, ids: [Int32], budget: Int, wordBytes: UnsafeMutableBufferPointer<UInt8>,
        offsets: UnsafeMutableBufferPointer<Int>, pieces: UnsafeMutableBufferPointer<Int32>
    ) {
        self.tokenizer = tokenizer
        self.options = tokenizer.options
        self.ids = ids
        self.budget = budget
        self.wordBytes = wordBytes
        self.offsets = offsets
        self.pieces = pieces
        self.maxChars = tokenizer.options.maxInputCharactersPerWord
        offsets[0] = 0
    }

    var isFull: Bool { ids.count >= budget }

    mutating func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        var position = 0
        var segmentStart = 0
        while position < bytes.count, !isFull {
            if let special = tokenizer.special(in: bytes, at: position) {
                normalize(UnsafeBufferPointer(rebasing: bytes[segmentStart..<position]))
                if !isFull { ids.append(special.id) }
                position += special.length
                segmentStart = position
            } else {
                position += 1
            }
        }
        if !isFull { normalize(UnsafeBufferPointer(rebasing: bytes[segmentStart..<bytes.count])) }
    }

    /// Normalises one segment between special tokens and tokenises its words.
    private mutating func normalize(_ segment: UnsafeBufferPointer<UInt8>) {
        var iterator = segment.makeIterator()
        var decoder = UTF8()
        decoding: while !isFull {
            let scalar: Unicode.Scalar
            switch decoder.decode(&iterator) {
            case .scalarValue(let value): scalar = value
            case .emptyInput: break decoding
            case .error: scalar = "\u{FFFD}"
            }
            clean(scalar)
        }
        flushMarks()
        endWord()
    }

    /// `clean_text` and `handle_chinese_chars`.
    private mutating func clean(_ scalar: Unicode.Scalar) {
        var scalar = scalar
        if options.cleanText {
            let value = scalar.value
            if value == 0 || value == 0xFFFD || CharacterClass.isControl(scalar) { return }
            if CharacterClass.isWhitespace(scalar) { scalar = " " }
        }
        if options.handleChineseCharacters, CharacterClass.isChineseCharacter(scalar.value) {
            decompose(" ")
            decompose(scalar)
            decompose(" ")
        } else {
            decompose(scalar)
        }
    }

    /// `strip_accents`: canonical decomposition and canonical ordering, dropping non-spacing marks.
    private mutating func decompose(_ scalar: Unicode.Scalar) {
        guard options.stripAccents else { return lowercase(scalar) }
        let value = scalar.value
        if value < 0xC0
            || CharacterClass.isChineseCharacter(value) && !(0xF900...0xFAFF).contains(value) && value < 0x2F800
        {
            return reorder(scalar)
        }
        if (0xAC00...0xD7A3).contains(value) {
            // Hangul syllables decompose algorithmically into two or three jamo.
            let index = value - 0xAC00
            reorder(Unicode.Scalar(0x1100 + index / 588) ?? scalar)
            reorder(Unicode.Scalar(0x1161 + index % 588 / 28) ?? scalar)
            if index % 28 != 0 { reorder(Unicode.Scalar(0x11A7 + index % 28) ?? scalar) }
            return
        }
        for part in CharacterClass.canonicalDecomposition(scalar).unicodeScalars { reorder(part) }
    }

    private mutating func reorder(_ scalar: Unicode.Scalar) {
        let combiningClass = scalar.value < 0x300 ? 0 : scalar.properties.canonicalCombiningClass.rawValue
        if combiningClass == 0 {
            flushMarks()
            if !CharacterClass.isNonspacingMark(scalar) { lowercase(scalar) }
        } else if !CharacterClass.isNonspacingMark(scalar) {
            // Dropping non-spacing marks does not change the relative order of the marks that stay.
            pendingMarks.append(scalar)
        }
    }

    private mutating func flushMarks() {
        guard !pendingMarks.isEmpty else { return }
        // A stable sort by combining class: the canonical ordering algorithm.
        let marks = pendingMarks.sorted {
            $0.properties.canonicalCombiningClass.rawValue < $1.properties.canonicalCombiningClass.rawValue
        }
        pendingMarks.removeAll(keepingCapacity: true)
        for mark in marks { lowercase(mark) }
    }

    private mutating func lowercase(_ scalar: Unicode.Scalar) {
        guard options.lowercase else { return split(scalar) }
        let value = scalar.value
        if value < 0x80 {
            return split((0x41...0x5A).contains(value) ? Unicode.Scalar(UInt8(value) | 0x20) : scalar)
        }
        for lower in scalar.properties.lowercaseMapping.unicodeScalars { split(lower) }
    }

    /// The BERT pre-tokeniser: whitespace ends a word, punctuation is a word of its own.
    private mutating func split(_ scalar: Unicode.Scalar) {
        if CharacterClass.isWhitespace(scalar) {
            endWord()
        } else if CharacterClass.isPunctuation(scalar) {
            endWord()
            append(scalar)
            endWord()
        } else {
            append(scalar)
        }
    }

    private mutating func append(_ scalar: Unicode.Scalar) {
        wordChars += 1
        guard wordChars <= maxChars else { return }
        let value = scalar.value
        var position = wordByteCount
        if value < 0x80 {
            wordBytes[position] = UInt8(value)
            position += 1
        } else {
            for unit in scalar.utf8 {
                wordBytes[position] = unit
                position += 1
            }
        }
        wordByteCount = position
        offsets[wordChars] = position
    }

    /// WordPiece on the current word, then starts a new one.
    private mutating func endWord() {
        defer {
            wordChars = 0
            wordByteCount = 0
        }
        guard wordChars > 0, !isFull else { return }
        guard wordChars <= maxChars else { return ids.append(tokenizer.unknownID) }
        let limit = tokenizer.maximumPieceLength
        let bytes = UnsafeBufferPointer(wordBytes)
        var pieceCount = 0
        var start = 0
        while start < wordChars {
            var end = start
            while end < wordChars, offsets[end + 1] - offsets[start] <= limit { end += 1 }
            var found: Int32?
            while end > start {
                let piece = UnsafeBufferPointer(rebasing: bytes[offsets[start]..<offsets[end]])
                if let id = tokenizer.lookup(piece, continuation: start > 0) {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return ids.append(tokenizer.unknownID) }
            pieces[pieceCount] = id
            pieceCount += 1
            start = end
        }
        let room = budget - ids.count
        ids.append(contentsOf: UnsafeBufferPointer(rebasing: pieces[0..<min(pieceCount, room)]))
    }
}

/// The character classes of Hugging Face's BERT normaliser and pre-tokeniser.
private enum CharacterClass {
    /// Control characters for `clean_text`: categories Cc, Cf and Co, except tab, newline and carriage return.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// Whitespace: the Unicode White_Space property.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value == 0x20 || (0x09...0x0D).contains(value) }
        return scalar.properties.isWhitespace
    }

    /// BERT's punctuation: every ASCII punctuation character (symbols such as `$`, `+` and `^` included) and
    /// the Unicode punctuation categories.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value) || (0x5B...0x60).contains(value)
                || (0x7B...0x7E).contains(value)
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// Category Mn.
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 0x300 && scalar.properties.generalCategory == .nonspacingMark
    }

    /// The CJK ideograph blocks of Hugging Face's BertNormalizer.
    static func isChineseCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// The full canonical decomposition of one scalar (its NFD).
    static func canonicalDecomposition(_ scalar: Unicode.Scalar) -> String {
        String(Character(scalar)).decomposedStringWithCanonicalMapping
    }
}
