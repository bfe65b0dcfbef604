/// What a measurement log says is live on a server: its executable, the plugins it loaded, the models it serves
/// and its access settings.
public struct MeasuredState: Sendable {
    /// A plugin the server accepted.
    public struct Plugin: Sendable, Hashable {
        /// The plugin's name, version, ABI version (`major.minor`), kind (`handler` or `kernels`) and file name.
        public var name, version, abi, kind, file: String
        /// SHA-384 of the plugin file's bytes.
        public var digest: [UInt8]
    }

    /// A model version the server serves.
    public struct Model: Sendable, Hashable {
        /// The model's name, version, handler and source (`folder` or `archive`).
        public var name, version, handler, source: String
        /// The version's digest (see ``SubjectDigest``).
        public var digest: [UInt8]
    }

    /// The executable's path and SHA-384, from the first event.
    public private(set) var executable: (path: String, digest: [UInt8])?
    /// The plugins accepted, in load order.
    public private(set) var plugins: [Plugin] = []
    /// The plugin files opened (accepted or not), with their digests, in load order.
    public private(set) var pluginFiles: [(file: String, digest: [UInt8])] = []
    /// The model versions loaded and not unloaded since, in load order.
    public private(set) var models: [Model] = []
    /// Each setting's last recorded value.
    public private(set) var settings: [String: String] = [:]

    /// Replays `log` into the state it describes.
    public init(_ log: MeasurementLogSnapshot) {
        for event in log.events {
            let fields = event.fields
            switch event.kind {
            case .executable:
                self.executable = (fields["path"] ?? "", event.digest)
            case .pluginFile:
                self.pluginFiles.append((fields["file"] ?? "", event.digest))
            case .plugin:
                self.plugins.append(
                    Plugin(
                        name: fields["name"] ?? "", version: fields["version"] ?? "", abi: fields["abi"] ?? "",
                        kind: fields["kind"] ?? "", file: fields["file"] ?? "", digest: event.digest))
            case .modelLoaded:
                self.models.append(Self.model(fields, event.digest))
            case .modelUnloaded:
                let unloaded = Self.model(fields, event.digest)
                if let index = self.models.firstIndex(of: unloaded) {
                    self.models.remove(at: index)
                }
            case .setting:
                if let name = fields["name"] {
                    self.settings[name] = fields["value"] ?? ""
                }
            }
        }
    }

    private static func model(_ fields: [String: String], _ digest: [UInt8]) -> Model {
        Model(
            name: fields["model"] ?? "", version: fields["version"] ?? "", handler: fields["handler"] ?? "",
            source: fields["source"] ?? "", digest: digest)
    }
}
