import ConfideTensors
package import NIOCore

/// Entry points for fuzzing the codec's decoders (see `Tests/Fuzz`). Each must return normally on any input,
/// and every tensor a decoder accepts must be consistent with its shape and type.
public enum KServeFuzz {
    /// Decodes `bytes` as an inference response body, as the client does; the first byte, when present, picks
    /// a split point for the binary tensor extension's JSON header.
    public static func inferResponse(_ bytes: [UInt8]) {
        guard let (body, headerLength) = split(bytes) else { return }
        if let outputs = try? KServeCodec.decodeResponse(body: body, headerLength: headerLength) {
            for output in outputs {
                precondition(output.consistencyProblem() == nil, "accepted an inconsistent output '\(output.name)'")
            }
        }
    }

    /// The body and `Inference-Header-Content-Length` that a fuzzer's input stands for: the first byte, below
    /// 128, means JSON only; otherwise it places the split in proportion.
    package static func split(_ bytes: [UInt8]) -> (ByteBuffer, String?)? {
        guard let first = bytes.first else { return nil }
        let body = Array(bytes.dropFirst())
        let headerLength = first < 128 ? nil : String(Int(first - 128) * body.count / 127)
        return (ByteBuffer(bytes: body), headerLength)
    }
}
