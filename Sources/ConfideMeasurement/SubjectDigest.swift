import Crypto
import Foundation

/// The digests of what events measure: bytes, files and model versions.
public enum SubjectDigest {
    /// SHA-384 of `bytes`.
    public static func of(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA384.hash(data: bytes))
    }

    /// SHA-384 of a file's bytes, read in chunks.
    public static func ofFile(_ path: String) throws(MeasurementError) -> [UInt8] {
        try streamed(path).digest
    }

    /// The size and SHA-384 of a file, read in chunks of 1 MiB so that large weights are not held in memory.
    static func streamed(_ path: String) throws(MeasurementError) -> (count: Int, digest: [UInt8]) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw MeasurementError("cannot read \(path) to measure it")
        }
        defer { try? handle.close() }
        var hasher = SHA384()
        var count = 0
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: 1 << 20)
            } catch {
                throw MeasurementError("cannot read \(path) to measure it: \(error)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(data: chunk)
            count += chunk.count
        }
        return (count, Array(hasher.finalize()))
    }

    /// The label of ``modelTree(config:files:)``.
    public static let modelTreeLabel: [UInt8] = Array("confide-model-tree-v1".utf8)

    /// The digest of a model version served from a folder: the model's `model.json` and every file of the version.
    ///
    /// `SHA-384("confide-model-tree-v1" || 0x00 || entry("model.json", config) || entry(path, bytes)...)` with
    /// `entry(p, b) = u32be(len(p)) || p || u64be(len(b)) || SHA-384(b)`, the files in byte order of their
    /// UTF-8 relative paths (`/`-separated), excluding a `model.json` at the top of the version's folder.
    public static func modelTree(config: [UInt8], files: [(path: String, bytes: [UInt8])]) -> [UInt8] {
        tree(config: config, entries: files.map { ($0.path, $0.bytes.count, Array(SHA384.hash(data: $0.bytes))) })
    }

    /// The tree digest over entries whose contents are already hashed.
    private static func tree(config: [UInt8], entries: [(path: String, count: Int, digest: [UInt8])]) -> [UInt8] {
        var hasher = SHA384()
        hasher.update(data: modelTreeLabel)
        hasher.update(data: [0])
        func entry(_ path: String, _ count: Int, _ digest: [UInt8]) {
            let name = Array(path.utf8)
            hasher.update(data: Framing.u32(name.count))
            hasher.update(data: name)
            hasher.update(data: Framing.u64(count))
            hasher.update(data: digest)
        }
        entry("model.json", config.count, Array(SHA384.hash(data: config)))
        for file in entries.sorted(by: { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }) {
            entry(file.path, file.count, file.digest)
        }
        return Array(hasher.finalize())
    }

    /// The digest of a model version served from `folder`, read from disk: see ``modelTree(config:files:)``.
    /// Symbolic links are followed, as handlers follow them when they read the files.
    public static func modelFolder(config: [UInt8], folder: String) throws(MeasurementError) -> [UInt8] {
        var files: [(path: String, count: Int, digest: [UInt8])] = []
        try collect(folder, prefix: "", into: &files)
        return tree(config: config, entries: files.filter { $0.path != "model.json" })
    }

    private static func collect(
        _ folder: String, prefix: String, into files: inout [(path: String, count: Int, digest: [UInt8])]
    ) throws(MeasurementError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw MeasurementError("cannot list \(folder) to measure it")
        }
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw MeasurementError("cannot measure \(path): it is a dangling link")
            }
            if isDirectory.boolValue {
                try collect(path, prefix: prefix + name + "/", into: &files)
            } else {
                let (count, digest) = try streamed(path)
                files.append((prefix + name, count, digest))
            }
        }
    }
}
