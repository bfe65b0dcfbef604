public import ConfideJSON

/// A client's policy file: what it accepts to run on a server it sends plaintext to. See docs/MEASUREMENTS.md.
///
/// ```json
/// {"executables": ["<sha384 hex>"],
///  "plugins": [{"name": "bert", "digest": "<sha384 hex>"}],
///  "models": [{"name": "minilm", "version": "1", "digest": "<hex>"}],
///  "settings": {"authentication": "tokens", "management": "off"},
///  "rtmr3": "replay",
///  "evidence": {"mrtd": ["<hex>"], "measurements": ["<hex>"], "accept_simulated": false}}
/// ```
///
/// Every event of a server's log must be allowed: the executable's digest is listed, every plugin file's digest is
/// some listed plugin's, every accepted plugin matches a listed name and digest, every model version loaded
/// matches a listed name and digest (and version, when given). Each listed setting must be recorded with that
/// value (the last value recorded counts); settings not listed are not checked. An empty list allows nothing.
public struct MeasurementPolicy: Sendable, Hashable {
    /// An allowed plugin.
    public struct Plugin: Sendable, Hashable {
        /// The plugin's name, as its descriptor declares it.
        public var name: String
        /// SHA-384 of the plugin file.
        public var digest: [UInt8]

        /// Creates an entry.
        public init(name: String, digest: [UInt8]) {
            self.name = name
            self.digest = digest
        }
    }

    /// An allowed model version.
    public struct Model: Sendable, Hashable {
        /// The model's name.
        public var name: String
        /// The version, or `nil` for any version with this digest.
        public var version: String?
        /// The version's digest (see ``SubjectDigest``).
        public var digest: [UInt8]

        /// Creates an entry.
        public init(name: String, version: String? = nil, digest: [UInt8]) {
            self.name = name
            self.version = version
            self.digest = digest
        }
    }

    /// Whether a TDX quote's RTMR3 must equal the replayed log.
    public enum RegisterRequirement: String, Sendable, Hashable {
        /// RTMR3 must equal the log's replay (servers that extend RTMR3 through sysfs).
        case replay
        /// RTMR3 is not compared (servers that anchor through the CoCo attestation agent's own event log).
        case ignore
    }

    /// The executable digests allowed.
    public var executables: [[UInt8]] = []
    /// The plugins allowed.
    public var plugins: [Plugin] = []
    /// The model versions allowed.
    public var models: [Model] = []
    /// The settings required, by name.
    public var settings: [String: String] = [:]
    /// What a TDX quote's RTMR3 must be.
    public var rtmr3: RegisterRequirement = .replay
    /// The TDX MRTDs accepted (48 bytes each), from the `evidence` member.
    public var mrTDs: [[UInt8]] = []
    /// The SEV-SNP or simulated measurements accepted (48 bytes each), from the `evidence` member.
    public var measurements: [[UInt8]] = []
    /// Whether simulated evidence is accepted, from the `evidence` member.
    public var acceptSimulated = false

    /// Creates a policy that allows nothing.
    public init() {}

    /// Reads a policy file's JSON; unknown members are errors, so that a misspelt requirement is not ignored.
    public init(json bytes: [UInt8]) throws(MeasurementError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw MeasurementError("the policy is not JSON: \(error)")
        }
        guard let object = value.objectValue else { throw MeasurementError("the policy is not a JSON object") }
        let known: Set = ["executables", "plugins", "models", "settings", "rtmr3", "evidence"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw MeasurementError("the policy has an unknown member '\(unknown)'")
        }
        self.executables = try Self.digests(object["executables"], "executables")
        for (index, item) in try Self.array(object["plugins"], "plugins").enumerated() {
            let entry = try Self.entry(item, "plugins[\(index)]", ["name", "digest"])
            self.plugins.append(
                Plugin(
                    name: try Self.string(entry["name"], "plugins[\(index)].name"),
                    digest: try Self.digest(entry["digest"], "plugins[\(index)].digest")))
        }
        for (index, item) in try Self.array(object["models"], "models").enumerated() {
            let entry = try Self.entry(item, "models[\(index)]", ["name", "version", "digest"])
            self.models.append(
                Model(
                    name: try Self.string(entry["name"], "models[\(index)].name"),
                    version: try entry["version"].map { value throws(MeasurementError) in
                        try Self.string(value, "models[\(index)].version")
                    },
                    digest: try Self.digest(entry["digest"], "models[\(index)].digest")))
        }
        if let settings = object["settings"] {
            guard let members = settings.objectValue else {
                throw MeasurementError("the policy's settings is not an object")
            }
            for (name, value) in members.orderedMembers {
                self.settings[name] = try Self.string(value, "settings.\(name)")
            }
        }
        if let requirement = object["rtmr3"] {
            guard let text = requirement.stringValue, let parsed = RegisterRequirement(rawValue: text) else {
                throw MeasurementError("the policy's rtmr3 must be \"replay\" or \"ignore\"")
            }
            self.rtmr3 = parsed
        }
        if let evidence = object["evidence"] {
            let entry = try Self.entry(evidence, "evidence", ["mrtd", "measurements", "accept_simulated"])
            self.mrTDs = try Self.digests(entry["mrtd"], "evidence.mrtd")
            self.measurements = try Self.digests(entry["measurements"], "evidence.measurements")
            if let accept = entry["accept_simulated"] {
                guard let flag = accept.boolValue else {
                    throw MeasurementError("the policy's evidence.accept_simulated is not true or false")
                }
                self.acceptSimulated = flag
            }
        }
    }

    /// The policy as JSON, as ``init(json:)`` reads it.
    public var json: JSONValue {
        var object = JSONObject()
        object["executables"] = .array(self.executables.map { .string(Hex.encode($0)) })
        object["plugins"] = .array(
            self.plugins.map { plugin in
                .object(JSONObject(["name": .string(plugin.name), "digest": .string(Hex.encode(plugin.digest))]))
            })
        object["models"] = .array(
            self.models.map { model in
                var entry = JSONObject(["name": .string(model.name)])
                if let version = model.version { entry["version"] = .string(version) }
                entry["digest"] = .string(Hex.encode(model.digest))
                return .object(entry)
            })
        var settings = JSONObject()
        for name in self.settings.keys.sorted() {
            settings[name] = self.settings[name].map(JSONValue.string)
        }
        object["settings"] = .object(settings)
        object["rtmr3"] = .string(self.rtmr3.rawValue)
        if !self.mrTDs.isEmpty || !self.measurements.isEmpty || self.acceptSimulated {
            object["evidence"] = .object(
                JSONObject([
                    "mrtd": .array(self.mrTDs.map { .string(Hex.encode($0)) }),
                    "measurements": .array(self.measurements.map { .string(Hex.encode($0)) }),
                    "accept_simulated": .bool(self.acceptSimulated),
                ]))
        }
        return .object(object)
    }

    /// Checks every event of `log` against the policy and returns what is live.
    /// - Throws: ``MeasurementError`` naming the first event or setting that broke the policy.
    @discardableResult
    public func check(_ log: MeasurementLogSnapshot) throws(MeasurementError) -> MeasuredState {
        guard let first = log.events.first, first.kind == .executable else {
            throw MeasurementError("the measurement log does not start with the executable")
        }
        for (index, event) in log.events.enumerated() {
            let fields = event.fields
            let digest = Hex.encode(event.digest)
            switch event.kind {
            case .executable:
                guard index == 0 else { throw MeasurementError("event \(index): a second executable event") }
                guard self.executables.contains(event.digest) else {
                    throw MeasurementError(
                        "event \(index): the executable \(fields["path"] ?? "?") (sha384 \(digest)) is not in the "
                            + "policy's executables")
                }
            case .pluginFile:
                guard self.plugins.contains(where: { $0.digest == event.digest }) else {
                    throw MeasurementError(
                        "event \(index): the plugin file \(fields["file"] ?? "?") (sha384 \(digest)) is not in the "
                            + "policy's plugins")
                }
            case .plugin:
                let name = fields["name"] ?? ""
                guard self.plugins.contains(Plugin(name: name, digest: event.digest)) else {
                    throw MeasurementError(
                        "event \(index): the plugin '\(name)' (sha384 \(digest)) is not in the policy's plugins")
                }
            case .modelLoaded:
                let name = fields["model"] ?? ""
                let version = fields["version"] ?? ""
                let allowed = self.models.contains {
                    $0.name == name && $0.digest == event.digest && ($0.version == nil || $0.version == version)
                }
                guard allowed else {
                    throw MeasurementError(
                        "event \(index): model '\(name)' version \(version) (digest \(digest)) is not in the "
                            + "policy's models")
                }
            case .modelUnloaded, .setting:
                continue
            }
        }
        let state = MeasuredState(log)
        for name in self.settings.keys.sorted() {
            guard let value = state.settings[name] else {
                throw MeasurementError("the measurement log records no setting '\(name)'; the policy requires it")
            }
            guard value == self.settings[name] else {
                throw MeasurementError(
                    "the setting '\(name)' is '\(value)'; the policy requires '\(self.settings[name] ?? "")'")
            }
        }
        return state
    }

    private static func array(_ value: JSONValue?, _ name: String) throws(MeasurementError) -> [JSONValue] {
        guard let value else { return [] }
        guard let items = value.arrayValue else { throw MeasurementError("the policy's \(name) is not an array") }
        return items
    }

    private static func entry(
        _ value: JSONValue, _ name: String, _ members: Set<String>
    ) throws(MeasurementError) -> JSONObject {
        guard let object = value.objectValue else { throw MeasurementError("the policy's \(name) is not an object") }
        if let unknown = object.keys.first(where: { !members.contains($0) }) {
            throw MeasurementError("the policy's \(name) has an unknown member '\(unknown)'")
        }
        return object
    }

    private static func string(_ value: JSONValue?, _ name: String) throws(MeasurementError) -> String {
        guard let text = value?.stringValue else { throw MeasurementError("the policy's \(name) is not a string") }
        return text
    }

    private static func digest(_ value: JSONValue?, _ name: String) throws(MeasurementError) -> [UInt8] {
        guard let bytes = Hex.decode(try string(value, name)), bytes.count == 48 else {
            throw MeasurementError("the policy's \(name) is not 48 bytes of hexadecimal")
        }
        return bytes
    }

    private static func digests(_ value: JSONValue?, _ name: String) throws(MeasurementError) -> [[UInt8]] {
        var digests: [[UInt8]] = []
        for (index, item) in try array(value, name).enumerated() {
            digests.append(try digest(item, "\(name)[\(index)]"))
        }
        return digests
    }
}
