/// A WordPiece vocabulary as an open-addressing hash table over UTF-8 bytes, so that the tokenizer looks up
/// pieces of a word straight from its byte buffer, without building a `String` per lookup.
///
/// Every token is in the plain table under its full text; a token that starts with the continuation prefix
/// (`##`) is also in the continuation table under the text after the prefix. Looking up `piece` as a
/// continuation is then the same as looking up `"##" + piece`, as Hugging Face's WordPiece does.
struct Vocabulary: Sendable {
    private struct Slot: Sendable {
        var offset = 0
        var length = 0
        var id: Int32 = -1
        var continuation = false
    }

    private var keys: [UInt8] = []
    private var slots: [Slot]
    private let mask: Int
    /// The number of tokens.
    private(set) var count = 0
    /// The longest key in either table, in bytes: no longer piece can match.
    private(set) var maximumKeyLength = 0

    /// An empty vocabulary with room for `capacity` tokens.
    init(capacity: Int) {
        var size = 16
        while size < 4 * max(capacity, 1) { size <<= 1 }
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
    }

    /// Adds `token` with `id`; returns `false` (and changes nothing) when the token is already present.
    mutating func insert(_ token: String, id: Int32, continuationPrefix: String) -> Bool {
        let bytes = Array(token.utf8)
        guard find(bytes, continuation: false) == nil else { return false }
        add(bytes[...], continuation: false, id: id)
        let prefix = Array(continuationPrefix.utf8)
        if !prefix.isEmpty, bytes.count >= prefix.count, bytes.starts(with: prefix) {
            let rest = bytes[prefix.count...]
            if find(Array(rest), continuation: true) == nil { add(rest, continuation: true, id: id) }
        }
        count += 1
        return true
    }

    /// The id of `bytes` in the plain or continuation table.
    func find(_ bytes: [UInt8], continuation: Bool) -> Int32? {
        bytes.withUnsafeBufferPointer { find($0, continuation: continuation) }
    }

    /// The id of `bytes` in the plain or continuation table.
    func find(_ bytes: UnsafeBufferPointer<UInt8>, continuation: Bool) -> Int32? {
        guard bytes.count <= maximumKeyLength else { return nil }
        var index = Self.hash(bytes, continuation: continuation) & mask
        return keys.withUnsafeBufferPointer { keys in
            slots.withUnsafeBufferPointer { slots in
                while true {
                    let slot = slots[index]
                    if slot.id < 0 { return nil }
                    if slot.continuation == continuation, slot.length == bytes.count,
                        Self.equal(keys, slot.offset, bytes)
                    {
                        return slot.id
                    }
                    index = (index + 1) & mask
                }
            }
        }
    }

    private mutating func add(_ bytes: ArraySlice<UInt8>, continuation: Bool, id: Int32) {
        let offset = keys.count
        keys.append(contentsOf: bytes)
        maximumKeyLength = max(maximumKeyLength, bytes.count)
        var index = bytes.withUnsafeBufferPointer { Self.hash($0, continuation: continuation) } & mask
        while slots[index].id >= 0 { index = (index + 1) & mask }
        slots[index] = Slot(offset: offset, length: bytes.count, id: id, continuation: continuation)
    }

    private static func equal(_ keys: UnsafeBufferPointer<UInt8>, _ offset: Int, _ bytes: UnsafeBufferPointer<UInt8>)
        -> Bool
    {
        for index in 0..<bytes.count where keys[offset + index] != bytes[index] { return false }
        return true
    }

    /// FNV-1a over the bytes, seeded differently for the two tables.
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>, continuation: Bool) -> Int {
        var hash: UInt64 = continuation ? 0x84222325_cbf29ce4 : 0xcbf29ce4_84222325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}
