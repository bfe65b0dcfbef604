import Foundation

/// A deployment file that is not what the tests expect; says which file and what is wrong.
struct DeployFileError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The repository's files, found from this source file's place in it (`Tests/DeployTests/Support/`).
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The absolute path of a path relative to the repository's root.
    static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    static func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: path(relative))
    }

    static func isDirectory(_ relative: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path(relative), isDirectory: &directory) && directory.boolValue
    }

    /// A file's text.
    static func text(_ relative: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path(relative)) else {
            throw DeployFileError("cannot read \(relative)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The regular files under a folder whose names end in one of `extensions`, relative to the root, sorted.
    static func files(under folder: String, extensions: Set<String>) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: path(folder)) else { return [] }
        var found: [String] = []
        while let item = enumerator.nextObject() as? String {
            let relative = folder + "/" + item
            if !isDirectory(relative), extensions.contains((item as NSString).pathExtension) {
                found.append(relative)
            }
        }
        return found.sorted()
    }

    /// `path` relative to `folder` (both relative to the root), with `.` and `..` resolved; `nil` when it
    /// leaves the repository.
    static func resolve(_ path: String, in folder: String) -> String? {
        var components: [Substring] = []
        for component in (folder + "/" + path).split(separator: "/") {
            switch component {
            case ".": continue
            case "..":
                guard !components.isEmpty else { return nil }
                components.removeLast()
            default: components.append(component)
            }
        }
        return components.joined(separator: "/")
    }
}
