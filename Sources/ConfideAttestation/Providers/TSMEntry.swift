import Foundation

/// One configfs-tsm report entry directory, created on open when missing.
struct TSMEntry {
    let path: String
    private let created: Bool

    static func open(root: String, name: String?) throws(AttestationError) -> TSMEntry {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AttestationError(.providerUnavailable, "configfs-tsm is not available at \(root)")
        }
        let entry = name ?? "confide-\(UUID().uuidString.lowercased())"
        let path = root + "/" + entry
        if FileManager.default.fileExists(atPath: path) {
            return TSMEntry(path: path, created: false)
        }
        guard mkdir(path, 0o700) == 0 else {
            throw AttestationError(.io, "cannot create \(path): errno \(errno)")
        }
        return TSMEntry(path: path, created: name == nil)
    }

    func close() {
        if self.created {
            rmdir(self.path)
        }
    }

    func evidenceType() throws(AttestationError) -> EvidenceType {
        let provider = try self.text("provider")
        switch provider {
        case "tdx_guest":
            return .tdxQuote
        case "sev_guest":
            return .snpReport
        default:
            throw AttestationError(.providerUnavailable, "configfs-tsm provider \"\(provider)\" is not supported")
        }
    }

    func generation() throws(AttestationError) -> UInt64 {
        let text = try self.text("generation")
        guard let value = UInt64(text) else {
            throw AttestationError(.malformed, "configfs-tsm generation \"\(text)\" is not a number")
        }
        return value
    }

    func exists(_ file: String) -> Bool {
        FileManager.default.fileExists(atPath: self.path + "/" + file)
    }

    func read(_ file: String) throws(AttestationError) -> [UInt8] {
        let path = self.path + "/" + file
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            return [UInt8](try handle.readToEnd() ?? Data())
        } catch {
            throw AttestationError(.io, "cannot read \(path): \(error)")
        }
    }

    func write(_ file: String, _ bytes: [UInt8]) throws(AttestationError) {
        let path = self.path + "/" + file
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.write(contentsOf: bytes)
        } catch {
            throw AttestationError(.io, "cannot write \(path): \(error)")
        }
    }

    private func text(_ file: String) throws(AttestationError) -> String {
        String(decoding: try self.read(file), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
