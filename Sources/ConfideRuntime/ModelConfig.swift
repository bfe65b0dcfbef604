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
    /// Handler-specific settings (`"parameters"`): the runtime does not interpret them and passes them to the
    /// handler as ``parametersJSON``.
    public var parameters: JSONObject = JSONObject()
    /// The version served when a request names none; the highest numeric version by default.
    public var defaultVersion: String?
    /// The largest batch a worker executes at once.
    public var maxBatchSize: Int = 8
    /// How long, in microseconds, a worker holds a forming batch open for more requests. A lone request
    /// never waits: the delay applies only once two or more requests are queued.
    public var maxBatchDelayMicroseconds: Int = 0
    /// Batch sizes the handler runs best at; a worker takes the largest one the queue can fill.
    public var preferredBatchSizes: [Int] = []
    /// The most requests that may wait; more are refused at once with 503 and `Retry-After`.
    public var maxQueueSize: Int = 1024
    /// The number of worker threads, each with its own handler instance.
    public var workers: Int = 1
    /// The cores each worker owns (its intra-op thread team).
    public var coresPerWorker: Int = 1
    /// The NUMA node the workers run on; `nil` places them automatically.
    public var numaNode: Int?
    /// The default deadline of this model's requests in milliseconds; `nil` uses the server's.
    public var timeoutMilliseconds: Int?
    /// The sizes the OpenAI embeddings API may shorten this model's embeddings to (`dimensions`), from
    /// `"embedding_dimensions"`: a list of sizes, `true` for any size, `false` (the default) for none.
    public var embeddingDimensions: EmbeddingDimensions = .full

    /// Problems with `model.json` that do not stop the model from loading (deprecated keys), for the log.
    public private(set) var warnings: [String] = []
    /// The text of `"parameters"` as written in `model.json`, while ``parameters`` still holds what it says.
    private var writtenParameters: WrittenParameters?

    /// The keys of `model.json` that belong under `"parameters"` and are still read at the top level for one
    /// release, moved there with a warning.
    public static let deprecatedTopLevelParameters: [String] = ["precision"]

    /// The embedding sizes a client may ask for besides the model's own (`"embedding_dimensions"` in `model.json`).
    public enum EmbeddingDimensions: Sendable, Equatable {
        /// Only the model's own size.
        case full
        /// Any size from 1 to the model's own.
        case any
        /// These sizes (and the model's own).
        case sizes(Set<Int>)

        /// Whether a client may ask for `size` from a model whose embeddings have `full` values.
        public func allows(_ size: Int, of full: Int) -> Bool {
            guard size != full else { return true }
            switch self {
            case .full: return false
            case .any: return (1..<full).contains(size)
            case .sizes(let sizes): return size < full && sizes.contains(size)
            }
        }
    }

    /// The keys `model.json` may hold.
    public static let knownKeys = Set([
        "handler", "description", "parameters", "default_version", "max_batch_size", "max_batch_delay_us",
        "preferred_batch_sizes", "max_queue_size", "workers", "cores_per_worker", "numa_node", "timeout_ms",
        "embedding_dimensions",
    ]).union(deprecatedTopLevelParameters)

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
                "model.json: unknown key \"\(unknown)\" (known keys: \(Self.knownKeys.sorted().joined(separator: ", ")))"
            )
        }
        guard let handler = object["handler"]?.stringValue, !handler.isEmpty else {
            throw ModelStoreError("model.json: \"handler\" must name a handler, e.g. {\"handler\": \"echo\"}")
        }
        self.init(handler: handler)
        if let description = object["description"] {
            guard let text = description.stringValue else {
                throw ModelStoreError("model.json: \"description\" must be a string")
            }
            self.description = text
        }
        if let parameters = object["parameters"] {
            guard let members = parameters.objectValue else {
                throw ModelStoreError("model.json: \"parameters\" must be an object")
            }
            self.parameters = members
            writtenParameters = Self.parametersText(bytes, holding: members).map {
                WrittenParameters(text: $0, value: members)
            }
        }
        for key in Self.deprecatedTopLevelParameters {
            guard let value = object[key] else { continue }
            if self.parameters[key] == nil {
                self.parameters[key] = value
                warnings.append(
                    "model.json: the top-level \"\(key)\" is deprecated and will not be read in the next release: "
                        + "move it under \"parameters\"")
            } else {
                warnings.append(
                    "model.json: the top-level \"\(key)\" is ignored, \"parameters\" sets it; remove it (deprecated)")
            }
        }
        if let version = object["default_version"] {
            switch version {
            case .string(let text) where !text.isEmpty: defaultVersion = text
            case .integer(let number) where number > 0: defaultVersion = String(number)
            default: throw ModelStoreError("model.json: \"default_version\" must be a version name")
            }
        }
        maxBatchSize = try Self.integer(object, "max_batch_size", default: maxBatchSize, 1...4096)
        maxBatchDelayMicroseconds = try Self.integer(
            object, "max_batch_delay_us", default: maxBatchDelayMicroseconds, 0...10_000_000)
        maxQueueSize = try Self.integer(object, "max_queue_size", default: maxQueueSize, 1...1_000_000)
        workers = try Self.integer(object, "workers", default: workers, 1...1024)
        coresPerWorker = try Self.integer(object, "cores_per_worker", default: coresPerWorker, 1...1024)
        if object["numa_node"] != nil { numaNode = try Self.integer(object, "numa_node", default: 0, 0...4095) }
        if object["timeout_ms"] != nil {
            timeoutMilliseconds = try Self.integer(object, "timeout_ms", default: 0, 1...86_400_000)
        }
        if let member = object["embedding_dimensions"] {
            embeddingDimensions = try Self.embeddingDimensions(member)
        }
        if let sizes = object["preferred_batch_sizes"] {
            guard let list = sizes.arrayValue else {
                throw ModelStoreError("model.json: \"preferred_batch_sizes\" must be an array of batch sizes")
            }
            preferredBatchSizes = try list.map { value throws(ModelStoreError) in
                guard let size = value.int64Value, size >= 1, size <= maxBatchSize else {
                    throw ModelStoreError(
                        "model.json: \"preferred_batch_sizes\" must hold sizes from 1 to max_batch_size (\(maxBatchSize))"
                    )
                }
                return Int(size)
            }.sorted()
        }
    }

    /// The handler's settings as JSON text: `"parameters"` exactly as `model.json` writes it, or, when the runtime
    /// changed them (a deprecated top-level key moved in, an override), serialized in their order.
    public var parametersJSON: String {
        if let writtenParameters, writtenParameters.value == parameters { return writtenParameters.text }
        return String(decoding: JSONValue.object(parameters).serialized, as: UTF8.self)
    }

    /// `"parameters"` and the text that wrote it.
    private struct WrittenParameters: Sendable, Equatable {
        var text: String
        var value: JSONObject
    }

    /// The text of the top-level object's `"parameters"` member, when it reads back as `members` (`nil` otherwise:
    /// the members are then serialized).
    private static func parametersText(_ bytes: [UInt8], holding members: JSONObject) -> String? {
        let span = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONError) -> Range<Int>? in
                var scanner = JSONScanner(buffer)
                var found: Range<Int>?
                try scanner.openObject()
                while let key = try scanner.nextKey() {
                    scanner.skipWhitespace()
                    let start = scanner.position
                    try scanner.skipValue()
                    if key == "parameters" { found = start..<scanner.position }
                }
                return found
            }
        }
        guard case .success(let range?) = span, range.lowerBound >= 0, range.upperBound <= bytes.count,
            (try? JSONParser.parse(bytes[range]))?.objectValue == members
        else { return nil }
        return String(decoding: bytes[range], as: UTF8.self)
    }

    private static func embeddingDimensions(_ member: JSONValue) throws(ModelStoreError) -> EmbeddingDimensions {
        if let flag = member.boolValue { return flag ? .any : .full }
        let problem = ModelStoreError(
            "model.json: \"embedding_dimensions\" must be true, false or a list of sizes from 1 to 65536")
        guard let list = member.arrayValue, !list.isEmpty else { throw problem }
        var sizes: Set<Int> = []
        for value in list {
            guard let size = value.int64Value, (1...65536).contains(size) else { throw problem }
            sizes.insert(Int(size))
        }
        return .sizes(sizes)
    }

    private static func integer(_ object: JSONObject, _ key: String, default value: Int, _ range: ClosedRange<Int>)
        throws(ModelStoreError) -> Int
    {
        guard let member = object[key] else { return value }
        guard let number = member.int64Value, let integer = Int(exactly: number), range.contains(integer) else {
            throw ModelStoreError(
                "model.json: \"\(key)\" must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }
}

/// A problem with the model store or a model in it.
public struct ModelStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for people.
    public let message: String
    /// Whether the store has no such model at all (rather than one it refuses to load).
    public let isMissing: Bool

    /// Creates an error; `missing` when the store holds no model of that name.
    public init(_ message: String, missing: Bool = false) {
        self.message = message
        self.isMissing = missing
    }

    public var description: String { message }
}
