import ConfideJSON

/// Writes OpenAI's `CreateEmbeddingResponse`: `{"object": "list", "data": [{"object": "embedding", "index": i,
/// "embedding": [...] | "<base64>"}], "model": "...", "usage": {"prompt_tokens": n, "total_tokens": n}}`.
///
/// Numbers are the shortest text that reads back as the same FP32 value; base64 holds the little-endian FP32 bytes.
/// A shortened embedding (`dimensions`) is its first values, scaled back to unit length when the full embedding has
/// unit length, as OpenAI's models do.
enum EmbeddingsResponse {
    /// The response body for `rows` (`count` embeddings of `width` values each, row after row), shortened to
    /// `dimensions` values.
    static func encode(
        model: String, rows: UnsafeBufferPointer<Float>, count: Int, width: Int, dimensions: Int,
        format: EmbeddingsRequest.EncodingFormat, promptTokens: Int
    ) -> [UInt8] {
        var writer = JSONWriter(capacity: sizeEstimate(count: count, dimensions: dimensions, format: format))
        writer.raw(#"{"object":"list","data":["#)
        var row = [Float](repeating: 0, count: dimensions)
        for index in 0..<count {
            if index > 0 { writer.raw(",") }
            writer.raw(#"{"object":"embedding","index":"#)
            writer.integer(index)
            writer.raw(#","embedding":"#)
            shorten(UnsafeBufferPointer(rebasing: rows[(index * width)..<(index * width + width)]), into: &row)
            switch format {
            case .float:
                writer.raw("[")
                for (position, value) in row.enumerated() {
                    if position > 0 { writer.raw(",") }
                    writer.number(value)
                }
                writer.raw("]")
            case .base64:
                writer.string(base64(row))
            }
            writer.raw("}")
        }
        writer.raw(#"],"model":"#)
        writer.string(model)
        writer.raw(#","usage":{"prompt_tokens":"#)
        writer.integer(promptTokens)
        writer.raw(#","total_tokens":"#)
        writer.integer(promptTokens)
        writer.raw("}}")
        return writer.bytes
    }

    /// The most bytes a response may take: an FP32 value is at most 15 characters and a comma as text, 4 bytes as
    /// base64 for 3 bytes of data; each embedding adds its envelope. `Int.max` when the arithmetic overflows.
    static func sizeEstimate(count: Int, dimensions: Int, format: EmbeddingsRequest.EncodingFormat) -> Int {
        let perValue = format == .float ? 16 : 2
        let (values, overflowValues) = count.multipliedReportingOverflow(by: dimensions)
        let (text, overflowText) = values.multipliedReportingOverflow(by: perValue)
        let (envelopes, overflowEnvelopes) = count.multipliedReportingOverflow(by: 64)
        let (sum, overflowSum) = text.addingReportingOverflow(envelopes)
        guard !(overflowValues || overflowText || overflowEnvelopes || overflowSum) else { return .max }
        return sum.addingReportingOverflow(512).overflow ? .max : sum + 512
    }

    /// The first `row.count` values of `embedding`, scaled to unit length when `embedding` has unit length and is
    /// shortened.
    static func shorten(_ embedding: UnsafeBufferPointer<Float>, into row: inout [Float]) {
        let size = min(row.count, embedding.count)
        for index in 0..<size { row[index] = embedding[index] }
        guard size < embedding.count else { return }
        let full = embedding.reduce(0.0) { $0 + Double($1) * Double($1) }
        guard abs(full.squareRoot() - 1) < 1e-3 else { return }
        let norm = row[0..<size].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { return }
        for index in 0..<size { row[index] = Float(Double(row[index]) / norm) }
    }

    /// The little-endian bytes of `values`, base64-encoded (RFC 4648, with padding).
    static func base64(_ values: [Float]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            let bits = value.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> shift)) }
        }
        return base64(bytes)
    }

    /// `bytes`, base64-encoded (RFC 4648, with padding).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let first = UInt32(bytes[index])
            let second = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let third = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let group = first << 16 | second << 8 | third
            text.append(alphabet[Int(group >> 18 & 63)])
            text.append(alphabet[Int(group >> 12 & 63)])
            text.append(remaining > 1 ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "="))
            text.append(remaining > 2 ? alphabet[Int(group & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }
}
