import BertModel
import ConfideJSON
import Foundation
import MiniLMCache
import Testing

/// Where the tests find the reference model and the shared test data.
enum Fixtures {
    static let modelFolder = MiniLMCache.folder
    static var modelTestsEnabled: Bool { MiniLMCache.testsEnabled }
    static let modelAbsent = Comment(rawValue: MiniLMCache.absentReason)
    static let referencePath = MiniLMCache.referencePath

    static var referencePresent: Bool { FileManager.default.fileExists(atPath: referencePath) }

    static let referenceAbsent: Comment = "../shared/testdata/reference/minilm-public.jsonl is absent"

    static func file(_ name: String) throws -> [UInt8] {
        let path = (modelFolder as NSString).appendingPathComponent(name)
        return [UInt8](try #require(FileManager.default.contents(atPath: path), "cannot read \(path)"))
    }

    /// The reference rows: each text and the ids of Hugging Face's tokenizer.
    static func referenceRows() throws -> [(text: String, ids: [Int32])] {
        let data = try #require(FileManager.default.contents(atPath: referencePath))
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let row = try #require(try JSONParser.parse(String(line)).objectValue)
            let text = try #require(row["text"]?.stringValue)
            let ids = try #require(row["input_ids"]?.arrayValue).map { Int32(truncatingIfNeeded: $0.int64Value ?? -1) }
            return (text, ids)
        }
    }
}

/// A small deterministic generator for fuzz-style tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// Builds safetensors files for tests.
enum SafeTensorsBuilder {
    /// A file with the given header text and data bytes.
    /// The header is padded with spaces to a multiple of 8 bytes, as safetensors writers do.
    static func file(header: String, data: [UInt8], pad: Bool = true) -> [UInt8] {
        var header = Array(header.utf8)
        while pad, header.count % 8 != 0 { header.append(0x20) }
        return withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + data
    }

    /// A valid file with an F32 [2, 3] tensor "a" (values 0...5), an I64 [2] tensor "b", a BF16 [2] tensor "c" and
    /// an F16 [1] tensor "d".
    static var valid: [UInt8] {
        var data: [UInt8] = []
        for value in 0..<6 { data += withUnsafeBytes(of: Float(value).bitPattern.littleEndian, Array.init) }
        for value: Int64 in [7, -1] { data += withUnsafeBytes(of: value.littleEndian, Array.init) }
        data += [0x80, 0x3F, 0x00, 0xC0]  // BF16 1.0, -2.0
        data += [0x00, 0x3C]  // F16 1.0
        let header = """
            {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},\
            "b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},"c":{"dtype":"BF16","shape":[2],"data_offsets":[40,44]},\
            "d":{"dtype":"F16","shape":[1],"data_offsets":[44,46]}}
            """
        return file(header: header, data: data)
    }
}
