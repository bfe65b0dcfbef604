public import ConfideJSON

/// A model's settings, read from its `model.json`.
///
/// `{"handler": "echo"}` is a complete configuration; every other key has a default. Unknown keys are
/// an error that names the key, so a typo never silently falls back to a default.
public struct ModelConfig: Sendable, Equatable {
    /// The handler plugin that serves the model (its `name`).
    public var handler: String
    /// One line for people.
    public var description: String = ""
    /// Handler-specific settings, passed to the handler as JSON.
    public var parameters: JSONObject = JSONObject()
    /// The version served when a request names none; the highest numeric version by default.
    public var defaultVersion: String?
    /// The largest batch a worker executes at once.
    public var maxBatchSize: Int = 8
    /// The number of worker threads, each with its own handler instance.
    public var workers: Int = 1

    /// The keys `model.json` may hold.
    public static let knownKeys: Set<String> = [
        "handler", "description", "parameters", "default_version", "max_batch_size", "workers",
    ]

    /// Creates a configuration for a handler with default settings.
    public init(handler: String) {
        self.handler = handler
    }

    /// Parses `model.json` text.
    public init(json bytes: [UInt8]) throws(ModelStoreError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw ModelStoreError("model.json: \(error)")
        }
        guard let object = value.objectValue else { throw ModelStoreError("model.json must hold a JSON object") }
        if let unknown = object.keys.first(where: { !Self.knownKeys.contains($0) }) {
            throw ModelStoreError(
                "model.json: unknown key \"\(unknown)\" (known keys: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }
        guard let handler = object["handler"]?.stringValue, !handler.isEmpty else {
            throw ModelStoreError("model.json: \"handler\" must name a handler, e.g. {\"handler\": \"echo\"}")
        }
        self.init(handler: handler)
        if let description = object["description"] {
            guard let text = description.stringValue else { throw ModelStoreError("model.json: \"description\" must be a string") }
            self.description = text
        }
        if let parameters = object["parameters"] {
            guard let members = parameters.objectValue else {
                throw ModelStoreError("model.json: \"parameters\" must be an object")
            }
            self.parameters = members
        }
        if let version = object["default_version"] {
            switch version {
            case .string(let text) where !text.isEmpty: defaultVersion = text
            case .integer(let number) where number > 0: defaultVersion = String(number)
            default: throw ModelStoreError("model.json: \"default_version\" must be a version name")
            }
        }
        maxBatchSize = try Self.positiveInteger(object, "max_batch_size", default: maxBatchSize, maximum: 4096)
        workers = try Self.positiveInteger(object, "workers", default: workers, maximum: 1024)
    }

    private static func positiveInteger(_ object: JSONObject, _ key: String, default value: Int, maximum: Int)
        throws(ModelStoreError) -> Int
    {
        guard let member = object[key] else { return value }
        guard let number = member.int64Value, number >= 1, number <= maximum else {
            throw ModelStoreError("model.json: \"\(key)\" must be an integer from 1 to \(maximum)")
        }
        return Int(number)
    }
}

/// A problem with the model store or a model in it.
public struct ModelStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
