import Foundation
import Testing

/// Locates `../shared/testdata/attestation/` relative to the package root and loads its files.
enum Fixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("shared/testdata/attestation")

    static var available: Bool {
        FileManager.default.fileExists(atPath: Self.directory.path)
    }

    static let skipMessage: Comment =
        "attestation fixtures absent: ../shared/testdata/attestation/ not found, test skipped"

    static func bytes(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(name)))
    }

    static func hexFile(_ name: String) throws -> [UInt8] {
        let text = String(decoding: try Self.bytes(name), as: UTF8.self)
        return try #require(hex(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    static let tdxQuotes = ["tdx-quote-v4-spr.bin", "tdx-quote-v4-b.bin", "tdx-quote-v5-sample.bin"]
}

/// Decodes a hexadecimal string, or returns nil.
func hex(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else {
        return nil
    }
    var bytes: [UInt8] = []
    var index = 0
    while index < digits.count {
        guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else {
            return nil
        }
        bytes.append(high << 4 | low)
        index += 2
    }
    return bytes
}

private func nibble(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}
