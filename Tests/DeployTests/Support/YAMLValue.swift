import Foundation
import Yams

/// A YAML value with the scalar types YAML 1.1 resolves (what Kubernetes' YAML reader sees: `8080` is a
/// number, `"8080"` a string, `yes` a boolean).
indirect enum YAMLValue: Equatable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case null
    case sequence([YAMLValue])
    case mapping([String: YAMLValue])

    /// Every document of a YAML text.
    static func documents(_ text: String, file: String) throws -> [YAMLValue] {
        do {
            return try Yams.compose_all(yaml: text).map { try YAMLValue($0, file: file) }
        } catch let error as DeployFileError {
            throw error
        } catch {
            throw DeployFileError("\(file) is not valid YAML: \(error)")
        }
    }

    init(_ node: Node, file: String) throws {
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: self = .null
            case Tag.Name.bool.rawValue: self = node.bool.map(YAMLValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue: self = node.int.map(YAMLValue.int) ?? .string(scalar.string)
            case Tag.Name.float.rawValue: self = node.float.map(YAMLValue.float) ?? .string(scalar.string)
            default: self = .string(scalar.string)
            }
        case .sequence(let sequence):
            self = .sequence(try sequence.map { try YAMLValue($0, file: file) })
        case .mapping(let mapping):
            var values: [String: YAMLValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else {
                    throw DeployFileError("\(file): a mapping key is not a scalar")
                }
                guard values[scalar.string] == nil else {
                    throw DeployFileError("\(file): the key '\(scalar.string)' appears twice in one mapping")
                }
                values[scalar.string] = try YAMLValue(value, file: file)
            }
            self = .mapping(values)
        case .alias:
            throw DeployFileError("\(file): YAML aliases are not used in these manifests")
        }
    }

    subscript(key: String) -> YAMLValue? {
        guard case .mapping(let values) = self else { return nil }
        return values[key]
    }

    /// The value at a path of mapping keys.
    func at(_ keys: String...) -> YAMLValue? {
        keys.reduce(Optional(self)) { value, key in value?[key] }
    }

    var string: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    var sequence: [YAMLValue]? {
        guard case .sequence(let values) = self else { return nil }
        return values
    }

    var mapping: [String: YAMLValue]? {
        guard case .mapping(let values) = self else { return nil }
        return values
    }

    /// A scalar as text, whatever its type (Kubernetes quantities and ports may be written either way).
    var scalarText: String? {
        switch self {
        case .string(let text): text
        case .int(let number): String(number)
        case .float(let number): String(number)
        case .bool(let flag): String(flag)
        case .null, .sequence, .mapping: nil
        }
    }

    var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .int, .float, .bool: scalarText ?? ""
        case .null: "null"
        case .sequence(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .mapping(let values):
            "{" + values.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

/// One operation of a JSON patch (RFC 6902), as Kustomize applies them to the objects a patch targets.
struct PatchOperation {
    enum Kind: String {
        case add, remove, replace, test
    }

    let kind: Kind
    let path: [String]
    let value: YAMLValue?

    /// Reads the operations of a patch file: a list of `{op, path, value}`.
    static func list(_ document: YAMLValue, file: String) throws -> [PatchOperation] {
        guard let items = document.sequence else {
            throw DeployFileError(
                "\(file): a JSON 6902 patch is a list of operations; strategic merge patches are not rendered by these tests"
            )
        }
        return try items.enumerated().map { index, item in
            guard let name = item["op"]?.string, let kind = Kind(rawValue: name) else {
                throw DeployFileError("\(file): operation \(index) needs op: add, remove, replace or test")
            }
            guard let pointer = item["path"]?.string, pointer.hasPrefix("/") else {
                throw DeployFileError("\(file): operation \(index) needs a path (a JSON pointer starting with /)")
            }
            if kind != .remove, item["value"] == nil {
                throw DeployFileError("\(file): operation \(index) (\(name) \(pointer)) needs a value")
            }
            let path = pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
            return PatchOperation(kind: kind, path: path, value: item["value"])
        }
    }

    /// Applies the operation to `document`.
    func apply(to document: inout YAMLValue) throws {
        try Self.apply(self, at: path[...], to: &document)
    }

    private static func apply(_ operation: PatchOperation, at path: ArraySlice<String>, to value: inout YAMLValue)
        throws
    {
        guard let token = path.first else {
            switch operation.kind {
            case .test:
                guard value == operation.value else { throw failure(operation, "holds \(value)") }
            case .add, .replace:
                value = operation.value ?? .null
            case .remove:
                throw failure(operation, "cannot remove the whole document")
            }
            return
        }
        let rest = path.dropFirst()
        switch value {
        case .mapping(var values):
            if rest.isEmpty, operation.kind == .add {
                values[token] = operation.value
            } else if rest.isEmpty, operation.kind == .remove {
                guard values.removeValue(forKey: token) != nil else {
                    throw failure(operation, "names no key '\(token)'")
                }
            } else {
                guard var child = values[token] else { throw failure(operation, "names no key '\(token)'") }
                try apply(operation, at: rest, to: &child)
                values[token] = child
            }
            value = .mapping(values)
        case .sequence(var values):
            if rest.isEmpty, operation.kind == .add {
                if token == "-" {
                    values.append(operation.value ?? .null)
                } else {
                    guard let index = Int(token), (0...values.count).contains(index) else {
                        throw failure(operation, "index '\(token)' is outside a list of \(values.count)")
                    }
                    values.insert(operation.value ?? .null, at: index)
                }
            } else {
                guard let index = Int(token), values.indices.contains(index) else {
                    throw failure(operation, "index '\(token)' is outside a list of \(values.count)")
                }
                if rest.isEmpty, operation.kind == .remove {
                    values.remove(at: index)
                } else {
                    try apply(operation, at: rest, to: &values[index])
                }
            }
            value = .sequence(values)
        case .string, .int, .float, .bool, .null:
            throw failure(operation, "goes through a scalar at '\(token)'")
        }
    }

    private static func failure(_ operation: PatchOperation, _ reason: String) -> DeployFileError {
        DeployFileError("\(operation.kind.rawValue) /\(operation.path.joined(separator: "/")): the path \(reason)")
    }
}
