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
        /// Whether ``BertTokenizer/decode(_:)`` removes the space before `.`, `?`, `!` and `,` (the WordPiece
        /// decoder's `cleanup`).
        public var decoderCleanup = true

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
    /// Each id's token, for ``token(for:)``.
    private let names: [Int32: String]
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

        if let decoder = try root.object("decoder") {
            options.decoderCleanup = try decoder.bool("cleanup") ?? true
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
        var names: [Int32: String] = [:]
        for (token, id) in entries {
            guard id >= 0, id <= Int(Int32.max) else {
                throw .malformedConfig("\(file): token \"\(token)\" has id \(id)")
            }
            guard vocabulary.insert(token, id: Int32(id), continuationPrefix: options.continuingSubwordPrefix) else {
                throw .malformedConfig("\(file): token \"\(token)\" appears twice")
            }
            names[Int32(id)] = token
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
        self.names = names
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
        try encode(utf8: bytes, pair: nil).ids
    }

    /// The encoding of UTF-8 `text`, or of the pair `text` and `pair`: `[CLS] text [SEP]` with token type 0, then
    /// `pair [SEP]` with token type 1, truncated to ``maxLength`` tokens as Hugging Face's tokenizers do
    /// (`longest_first`). With `offsets`, each token's span in its own text, in Unicode scalars (the character
    /// offsets of transformers' `return_offsets_mapping`). Invalid UTF-8 is an error.
    public func encode(
        utf8 text: UnsafeRawBufferPointer, pair: UnsafeRawBufferPointer?, offsets: Bool = false
    ) throws(BertModelError) -> BertEncoding {
        let first = try Self.validated(text)
        guard let pair else {
            let pieces = self.pieces(first, budget: maxLength - 2, offsets: offsets)
            return assemble(pieces, pieces.ids.count, nil, 0)
        }
        let second = try Self.validated(pair)
        guard maxLength >= 3 else {
            throw BertModelError(.unsupported, "a text pair needs at least 3 tokens, the model takes \(maxLength)")
        }
        let a = self.pieces(first, budget: .max, offsets: offsets)
        let b = self.pieces(second, budget: .max, offsets: offsets)
        let (countA, countB) = Self.pairLengths(a.ids.count, b.ids.count, budget: maxLength - 3)
        return assemble(a, countA, b, countB)
    }

    /// How many tokens of each text of a pair stay within `budget`, as the `longest_first` truncation of Hugging
    /// Face's tokenizers decides: nothing is cut when both fit; else the longer text is cut to what the shorter
    /// leaves, unless the shorter itself takes more than half, in which case the shorter keeps `budget / 2` and the
    /// longer the rest (the first text keeps `budget / 2` when the two are as long).
    public static func pairLengths(_ first: Int, _ second: Int, budget: Int) -> (Int, Int) {
        let (total, overflow) = first.addingReportingOverflow(second)
        guard overflow || total > budget else { return (first, second) }
        let swapped = first > second
        var short = min(first, second)
        var long = short > budget ? short : max(short, budget - short)
        if short > budget - long {
            short = budget / 2
            long = short + budget % 2
        }
        return swapped ? (long, short) : (short, long)
    }

    /// The token of `id`, as the vocabulary writes it (`"##ing"` for a continuation).
    public func token(for id: Int32) -> String? { names[id] }

    /// The text of consecutive tokens, as the WordPiece decoder writes it: continuations (`##…`) join the token
    /// before them, other tokens follow a space, and with ``Options/decoderCleanup`` no space stays before `.`,
    /// `?`, `!` or `,`.
    public func decode(_ tokens: [String]) -> String {
        let prefix = options.continuingSubwordPrefix
        var text = ""
        for (index, token) in tokens.enumerated() {
            var piece = token
            if index > 0 {
                if !prefix.isEmpty, piece.hasPrefix(prefix) {
                    piece = String(piece.dropFirst(prefix.count))
                } else {
                    piece = " " + piece
                }
            }
            if options.decoderCleanup, [" .", " ?", " !", " ,"].contains(piece) { piece = String(piece.dropFirst()) }
            text += piece
        }
        return text
    }

    /// Appends the ids of `text` ([CLS], at most `maxLength - 2` tokens, [SEP]) to `ids`, and returns how many
    /// it appended: for packing the tokens of a batch into one buffer.
    @discardableResult
    public func encode(_ text: String, appendingTo ids: inout [Int32]) -> Int {
        var text = text
        let pieces = text.withUTF8 { self.pieces($0, budget: maxLength - 2, offsets: false) }
        ids.append(classID)
        ids += pieces.ids
        ids.append(separatorID)
        return pieces.ids.count + 2
    }

    private static func validated(_ bytes: UnsafeRawBufferPointer) throws(BertModelError) -> UnsafeBufferPointer<UInt8>
    {
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
        return bytes
    }

    /// `[CLS]`, the first `countA` pieces of `a`, `[SEP]`, and for a pair the first `countB` pieces of `b`, `[SEP]`.
    private func assemble(_ a: Pieces, _ countA: Int, _ b: Pieces?, _ countB: Int) -> BertEncoding {
        var encoding = BertEncoding()
        let tracksOffsets = a.tracksOffsets
        func add(_ id: Int32, type: Int32, special: Bool, offset: Range<Int>) {
            encoding.ids.append(id)
            encoding.typeIDs.append(type)
            encoding.specialTokens.append(special)
            if tracksOffsets { encoding.offsets.append(offset) }
        }
        func add(_ pieces: Pieces, count: Int, type: Int32) {
            for index in 0..<min(count, pieces.ids.count) {
                let offset = index < pieces.starts.count ? pieces.starts[index]..<pieces.ends[index] : 0..<0
                add(pieces.ids[index], type: type, special: false, offset: offset)
            }
            add(separatorID, type: type, special: true, offset: 0..<0)
        }
        add(classID, type: 0, special: true, offset: 0..<0)
        add(a, count: countA, type: 0)
        if let b { add(b, count: countB, type: 1) }
        return encoding
    }

    /// The word pieces of valid UTF-8 `bytes`, at most `budget`, with their spans when `offsets` is set.
    private func pieces(_ bytes: UnsafeBufferPointer<UInt8>, budget: Int, offsets: Bool) -> Pieces {
        let maxChars = options.maxInputCharactersPerWord
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4 * maxChars) { wordBytes in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * (maxChars + 1)) { positions in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxChars) { pieces in
                    let width = maxChars + 1
                    var encoder = WordPieceEncoder(
                        tokenizer: self, budget: budget, tracksOffsets: offsets, wordBytes: wordBytes,
                        offsets: UnsafeMutableBufferPointer(rebasing: positions[0..<width]),
                        sources: UnsafeMutableBufferPointer(rebasing: positions[width..<(2 * width)]),
                        pieceStarts: UnsafeMutableBufferPointer(rebasing: positions[(2 * width)..<(3 * width)]),
                        pieces: pieces)
                    encoder.run(bytes)
                    return Pieces(
                        ids: encoder.ids, starts: encoder.starts, ends: encoder.ends, tracksOffsets: offsets)
                }
            }
        }
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

/// A tokenized input: ids, token types and, when asked for, each token's span in its text.
public struct BertEncoding: Sendable, Equatable {
    /// The token ids, [CLS] and [SEP] included.
    public var ids: [Int32] = []
    /// Each token's type: 0 for `[CLS]`, the first text and its `[SEP]`; 1 for the second text of a pair and its
    /// `[SEP]`.
    public var typeIDs: [Int32] = []
    /// Whether each token was added around the texts (`[CLS]`, `[SEP]`) rather than found in them.
    public var specialTokens: [Bool] = []
    /// Each token's span in its own text in Unicode scalars (`0..<0` for added tokens); empty unless asked for.
    public var offsets: [Range<Int>] = []

    /// An empty encoding.
    public init() {}
}

/// The word pieces of one text, before [CLS] and [SEP] are added.
private struct Pieces {
    var ids: [Int32]
    var starts: [Int]
    var ends: [Int]
    var tracksOffsets: Bool
}

/// One encoding in progress: the normaliser, pre-tokeniser and WordPiece model run as a single pass over the
/// text's scalars, writing the current word into fixed scratch buffers.
private struct WordPieceEncoder {
    let tokenizer: BertTokenizer
    let options: BertTokenizer.Options
    var ids: [Int32] = []
    /// The most pieces to find.
    let budget: Int
    /// Whether to record each piece's span in ``starts`` and ``ends``.
    let tracksOffsets: Bool
    /// The scalar offset in the text where each piece starts, when ``tracksOffsets``.
    var starts: [Int] = []
    /// The scalar offset in the text where each piece ends, when ``tracksOffsets``.
    var ends: [Int] = []
    /// The index, in the text, of the scalar being normalised: every scalar normalisation makes of it counts as
    /// coming from there.
    var source = 0
    /// The source of each scalar of the current word (only while it has at most `maxChars` scalars).
    let sources: UnsafeMutableBufferPointer<Int>
    /// The index of the first scalar of each piece of the current word, and the word's end.
    let pieceStarts: UnsafeMutableBufferPointer<Int>
    /// The sources of the current word's first and last scalars.
    var wordFirstSource = 0, wordLastSource = 0
    /// The current word's UTF-8 bytes (only while it has at most `maxChars` scalars).
    let wordBytes: UnsafeMutableBufferPointer<UInt8>
    /// The byte offset of each scalar of the current word, and its end.
    let offsets: UnsafeMutableBufferPointer<Int>
    /// The pieces of the current word.
    let pieces: UnsafeMutableBufferPointer<Int32>
    let maxChars: Int
    var wordChars = 0
    var wordByteCount = 0
    /// Non-starters waiting for canonical ordering (only when stripping accents), with their sources.
    var pendingMarks: [(scalar: Unicode.Scalar, source: Int)] = []

    init(
        tokenizer: BertTokenizer, budget: Int, tracksOffsets: Bool, wordBytes: UnsafeMutableBufferPointer<UInt8>,
        offsets: UnsafeMutableBufferPointer<Int>, sources: UnsafeMutableBufferPointer<Int>,
        pieceStarts: UnsafeMutableBufferPointer<Int>, pieces: UnsafeMutableBufferPointer<Int32>
    ) {
        self.pieceStarts = pieceStarts
        self.tokenizer = tokenizer
        self.options = tokenizer.options
        self.budget = budget
        self.tracksOffsets = tracksOffsets
        self.sources = sources
        self.wordBytes = wordBytes
        self.offsets = offsets
        self.pieces = pieces
        self.maxChars = tokenizer.options.maxInputCharactersPerWord
        offsets[0] = 0
    }

    var isFull: Bool { ids.count >= budget }

    /// Appends one token spanning the scalars `start..<end` of the text.
    private mutating func emit(_ id: Int32, from start: Int, to end: Int) {
        ids.append(id)
        if tracksOffsets {
            starts.append(start)
            ends.append(end)
        }
    }

    mutating func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        var position = 0
        var segmentStart = 0
        while position < bytes.count, !isFull {
            if let special = tokenizer.special(in: bytes, at: position) {
                normalize(UnsafeBufferPointer(rebasing: bytes[segmentStart..<position]))
                // The special token's scalars: its bytes that do not continue a UTF-8 sequence.
                var scalars = 0
                for index in position..<(position + special.length) where bytes[index] & 0xC0 != 0x80 { scalars += 1 }
                if !isFull { emit(special.id, from: source, to: source + scalars) }
                source += scalars
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
            source += 1
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
            pendingMarks.append((scalar, source))
        }
    }

    private mutating func flushMarks() {
        guard !pendingMarks.isEmpty else { return }
        // A stable sort by combining class: the canonical ordering algorithm.
        let marks = pendingMarks.sorted {
            $0.scalar.properties.canonicalCombiningClass.rawValue
                < $1.scalar.properties.canonicalCombiningClass.rawValue
        }
        pendingMarks.removeAll(keepingCapacity: true)
        let current = source
        for mark in marks {
            source = mark.source
            lowercase(mark.scalar)
        }
        source = current
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
        if wordChars == 0 { wordFirstSource = source }
        wordLastSource = source
        wordChars += 1
        guard wordChars <= maxChars else { return }
        sources[wordChars - 1] = source
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
        guard wordChars <= maxChars else {
            return emit(tokenizer.unknownID, from: wordFirstSource, to: wordLastSource + 1)
        }
        let limit = tokenizer.maximumPieceLength
        let bytes = UnsafeBufferPointer(wordBytes)
        var pieceCount = 0
        var start = 0
        pieceStarts[0] = 0
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
            guard let id = found else {
                return emit(tokenizer.unknownID, from: wordFirstSource, to: wordLastSource + 1)
            }
            pieces[pieceCount] = id
            pieceCount += 1
            pieceStarts[pieceCount] = end
            start = end
        }
        let room = budget - ids.count
        let kept = min(pieceCount, room)
        ids.append(contentsOf: UnsafeBufferPointer(rebasing: pieces[0..<kept]))
        guard tracksOffsets else { return }
        // Each piece spans the sources of its first and last scalars.
        for index in 0..<kept {
            starts.append(sources[pieceStarts[index]])
            ends.append(sources[pieceStarts[index + 1] - 1] + 1)
        }
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
