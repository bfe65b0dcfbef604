/// A JSON value. Integers that fit `Int64` keep their exact value; other numbers are `Double`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The value as a string, if it is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as a boolean, if it is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as an exact integer, if it is one (a `Double` with an integral value counts).
    public var int64Value: Int64? {
        switch self {
        case .integer(let value): return value
        case .double(let value):
            return value.rounded() == value ? Int64(exactly: value) : nil
        default: return nil
        }
    }

    /// The value as a `Double`, if it is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The elements, if the value is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if the value is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON object: members in their written order, with unique keys.
public struct JSONObject: Sendable, Equatable {
    /// The keys in their written order.
    public private(set) var keys: [String] = []
    private var members: [String: JSONValue] = [:]

    /// Creates an empty object.
    public init() {}

    /// Creates an object from ordered members; later duplicates replace earlier ones.
    public init(_ members: KeyValuePairs<String, JSONValue>) {
        for (key, value) in members { self[key] = value }
    }

    /// The member with the given key.
    public subscript(key: String) -> JSONValue? {
        get { members[key] }
        set {
            if members[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            members[key] = newValue
        }
    }

    /// The number of members.
    public var count: Int { keys.count }

    /// The members in their written order.
    public var orderedMembers: [(key: String, value: JSONValue)] {
        keys.compactMap { key in members[key].map { (key, $0) } }
    }

    /// Inserts a member read from text; returns `false` when the key is already present.
    mutating func insertNew(_ key: String, _ value: JSONValue) -> Bool {
        guard members.updateValue(value, forKey: key) == nil else { return false }
        keys.append(key)
        return true
    }
}
