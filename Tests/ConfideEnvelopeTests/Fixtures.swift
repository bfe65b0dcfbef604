import Foundation

/// Test data read from `../shared/testdata/ohttp/` relative to the package root.
enum Fixtures {
    /// The `ohttp` fixture folder, or `nil` when the shared test data is absent.
    static let ohttpDirectory: URL? = {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = packageRoot.appendingPathComponent("../shared/testdata/ohttp").standardizedFileURL
        return FileManager.default.fileExists(atPath: directory.path) ? directory : nil
    }()

    /// Why fixture tests are skipped when the folder is absent.
    static let missingMessage = "../shared/testdata/ohttp is absent next to the package root; fixture tests skipped"

    /// The contents of a fixture file.
    static func data(_ name: String) throws -> Data {
        guard let directory = ohttpDirectory else {
            throw FixtureError.missing(name)
        }
        return try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// The hexadecimal value on the line of `rfc9458-appendix-a.txt` that starts with `label`.
    static func appendixValue(_ label: String) throws -> [UInt8] {
        let text = String(decoding: try data("rfc9458-appendix-a.txt"), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(label) }),
            let token = line.split(separator: " ").last
        else {
            throw FixtureError.missing(label)
        }
        return try hex(String(token))
    }
}

enum FixtureError: Error {
    case missing(String)
    case badHex
}

/// Decodes hexadecimal text, ignoring whitespace.
func hex(_ text: String) throws -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    guard digits.count % 2 == 0 else {
        throw FixtureError.badHex
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else {
            throw FixtureError.badHex
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
