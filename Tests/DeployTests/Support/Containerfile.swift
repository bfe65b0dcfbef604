import Foundation

/// A Containerfile (Dockerfile) read the way BuildKit reads it: continuation lines joined, comments
/// dropped, instructions grouped into stages.
struct Containerfile {
    struct Instruction {
        let keyword: String
        let arguments: String
        let line: Int
    }

    struct Stage {
        /// The image or stage it starts from, with global ARGs substituted.
        let base: String
        let name: String?
        let line: Int
        var instructions: [Instruction] = []

        func instructions(_ keyword: String) -> [Instruction] {
            instructions.filter { $0.keyword == keyword }
        }
    }

    /// A COPY or ADD: its flags, sources and destination.
    struct Copy {
        let from: String?
        let sources: [String]
        let destination: String
        let line: Int
    }

    let path: String
    /// The ARGs declared before the first FROM, with their defaults.
    private(set) var globalArguments: [String: String] = [:]
    private(set) var stages: [Stage] = []

    init(_ path: String) throws {
        self.path = path
        var pending = ""
        var start = 0
        for (index, line) in try Repository.text(path).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") || (trimmed.isEmpty && pending.isEmpty) { continue }
            if pending.isEmpty { start = index + 1 }
            if trimmed.hasSuffix("\\") {
                pending += trimmed.dropLast() + " "
                continue
            }
            pending += trimmed
            try add(pending, line: start)
            pending = ""
        }
        guard pending.isEmpty else { throw DeployFileError("\(path): the last instruction ends in a continuation") }
        guard !stages.isEmpty else { throw DeployFileError("\(path) has no FROM") }
    }

    private mutating func add(_ text: String, line: Int) throws {
        let keyword = String(text.prefix { !$0.isWhitespace }).uppercased()
        let arguments = text.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
        if keyword == "FROM" {
            let words = arguments.split(separator: " ").map(String.init)
            let base = try substitute(words.first ?? "", line: line)
            let name = words.count == 3 && words[1].uppercased() == "AS" ? words[2] : nil
            guard words.count == 1 || name != nil else {
                throw DeployFileError("\(path):\(line): FROM IMAGE [AS NAME]")
            }
            stages.append(Stage(base: base, name: name, line: line))
        } else if stages.isEmpty {
            guard keyword == "ARG" else {
                throw DeployFileError("\(path):\(line): only ARG may come before the first FROM")
            }
            let parts = arguments.split(separator: "=", maxSplits: 1).map(String.init)
            guard let name = parts.first else { throw DeployFileError("\(path):\(line): ARG without a name") }
            globalArguments[name] = parts.count == 2 ? parts[1] : ""
        } else {
            stages[stages.count - 1].instructions.append(
                Instruction(keyword: keyword, arguments: arguments, line: line))
        }
    }

    /// `$NAME` and `${NAME}` replaced by the global ARGs' defaults.
    private func substitute(_ text: String, line: Int) throws -> String {
        var result = text
        for match in text.matches(of: /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/).reversed() {
            guard let value = globalArguments[String(match.output.1)] else {
                throw DeployFileError(
                    "\(path):\(line): FROM uses $\(match.output.1), which no ARG before the first FROM declares")
            }
            result.replaceSubrange(match.range, with: value)
        }
        return result
    }

    /// The stage the image is: the last.
    var finalStage: Stage { stages[stages.count - 1] }

    /// The stage with a name.
    func stage(named name: String) -> Stage? {
        stages.first { $0.name == name }
    }

    /// The COPY and ADD instructions of a stage.
    func copies(in stage: Stage) throws -> [Copy] {
        try stage.instructions.filter { $0.keyword == "COPY" || $0.keyword == "ADD" }.map { instruction in
            var words = instruction.arguments.split(separator: " ").map(String.init)
            var from: String?
            while let flag = words.first, flag.hasPrefix("--") {
                if flag.hasPrefix("--from=") { from = String(flag.dropFirst("--from=".count)) }
                words.removeFirst()
            }
            guard words.count >= 2, !(words.first ?? "").hasPrefix("[") else {
                throw DeployFileError(
                    "\(path):\(instruction.line): \(instruction.keyword) SOURCE... DESTINATION (the exec form is not used here)"
                )
            }
            return Copy(
                from: from, sources: Array(words.dropLast()), destination: words[words.count - 1],
                line: instruction.line)
        }
    }

    /// The exec form (a JSON list of strings) of the final stage's last instruction with this keyword.
    func execForm(_ keyword: String) throws -> [String] {
        guard let instruction = finalStage.instructions(keyword).last else {
            throw DeployFileError("\(path): the final stage has no \(keyword)")
        }
        guard let list = try? JSONSerialization.jsonObject(with: Data(instruction.arguments.utf8)) as? [String] else {
            throw DeployFileError(
                "\(path):\(instruction.line): \(keyword) must be in exec form (a JSON list of strings), so that SIGTERM reaches the server rather than a shell"
            )
        }
        return list
    }
}

/// The patterns of a `.dockerignore`, matched as BuildKit matches them: `*` and `?` within one path
/// component, `**` across components, a match on a folder excluding everything in it, `!` re-including,
/// and the last matching pattern deciding.
struct DockerIgnore {
    private let patterns: [(regex: Regex<AnyRegexOutput>, excludes: Bool, text: String)]

    init(_ path: String) throws {
        patterns = try Repository.text(path).split(separator: "\n").compactMap { line in
            var pattern = line.trimmingCharacters(in: .whitespaces)
            guard !pattern.isEmpty, !pattern.hasPrefix("#") else { return nil }
            let excludes = !pattern.hasPrefix("!")
            if !excludes { pattern.removeFirst() }
            while pattern.hasPrefix("/") { pattern.removeFirst() }
            return (try Regex(Self.expression(pattern)), excludes, pattern)
        }
    }

    /// The pattern that excludes `path` (relative to the context's root), or `nil` when it is in the context.
    func exclusion(of path: String) -> String? {
        let components = path.split(separator: "/")
        guard !components.isEmpty else { return nil }
        var decision: String?
        for pattern in patterns {
            let matches = (1...components.count).contains { count in
                (try? pattern.regex.wholeMatch(in: components.prefix(count).joined(separator: "/"))) != nil
            }
            if matches { decision = pattern.excludes ? pattern.text : nil }
        }
        return decision
    }

    private static func expression(_ pattern: String) -> String {
        var result = ""
        var characters = pattern[...]
        while let character = characters.first {
            characters = characters.dropFirst()
            switch character {
            case "*" where characters.first == "*":
                characters = characters.dropFirst()
                if characters.first == "/" {
                    characters = characters.dropFirst()
                    result += "(?:.*/)?"
                } else {
                    result += ".*"
                }
            case "*": result += "[^/]*"
            case "?": result += "[^/]"
            default: result += NSRegularExpression.escapedPattern(for: String(character))
            }
        }
        return result
    }
}
