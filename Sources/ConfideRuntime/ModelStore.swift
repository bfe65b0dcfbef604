public import ConfideHost
public import ConfideJSON
public import ConfideMeasurement
public import ConfideTensors
public import Crypto
import Foundation

/// Finds the key an encrypted model archive names (e.g. from a key file or the key broker).
public typealias ArchiveKeyLookup = @Sendable (_ keyName: KeyName) throws -> SymmetricKey

/// Which models of a store must come from encrypted archives: a folder or a plain archive for one of them is
/// refused.
public struct EncryptionRequirement: Sendable, Equatable {
    /// Whether every model must be an encrypted archive.
    public var everyModel: Bool
    /// The models that must be encrypted archives (besides every model when ``everyModel`` is set).
    public var models: Set<String>

    /// No model needs to be encrypted.
    public static let none = EncryptionRequirement()

    /// Requires encryption for every model, or for the named ones.
    public init(everyModel: Bool = false, models: Set<String> = []) {
        self.everyModel = everyModel
        self.models = models
    }

    /// Whether the model must be an encrypted archive.
    public func applies(to model: String) -> Bool {
        everyModel || models.contains(model)
    }
}

/// One model found in the model store: its configuration and its versions.
public struct StoredModel: Sendable {
    /// The model's name: its folder's name.
    public let name: String
    /// The model's folder.
    public let path: String
    /// The configuration, as read from `model.json`.
    public let config: ModelConfig
    /// The text of `model.json`.
    public let configText: String
    /// The versions, with the folder holding each one's artifacts.
    public let versions: [(name: String, path: String)]
    /// The version served when a request names none.
    public let defaultVersion: String
    /// The model's files when it came from an archive (decrypted, in memory only); `nil` for a folder.
    public let artifacts: [String: [UInt8]]?
    /// SHA-384 of the archive's bytes as read, when it came from an archive; `nil` for a folder.
    public let archiveDigest: [UInt8]?

    /// The measurement event of one of its versions: the archive's digest, or the digest of `model.json` and the
    /// version's folder (see ``SubjectDigest/modelFolder(config:folder:)``).
    public func measurement(version: (name: String, path: String)) throws(MeasurementError) -> MeasurementEvent {
        let digest: [UInt8]
        if let archiveDigest {
            digest = archiveDigest
        } else {
            digest = try SubjectDigest.modelFolder(config: Array(configText.utf8), folder: version.path)
        }
        return MeasurementEvent(
            kind: .modelLoaded,
            fields: [
                "model": name, "version": version.name, "handler": config.handler,
                "source": archiveDigest == nil ? "folder" : "archive",
            ],
            digest: digest)
    }

    /// What the handler loads one of its versions from: `model.json` as written, the handler's settings
    /// (``ModelConfig/parametersJSON``), and `artifacts`, the in-memory files of a model from an archive.
    public func loadConfig(version: (name: String, path: String), artifacts: [String: TensorBuffer] = [:])
        -> ModelLoadConfig
    {
        ModelLoadConfig(
            name: name, version: version.name, path: version.path, configJSON: configText,
            parametersJSON: config.parametersJSON, artifacts: artifacts)
    }

    /// The same model with another number of workers.
    func withWorkers(_ workers: Int) -> StoredModel {
        var config = config
        config.workers = workers
        return with(config)
    }

    /// The same model with `parameters` as the handler's settings (`model.json`'s text unchanged).
    public func withParameters(_ parameters: JSONObject) -> StoredModel {
        var config = config
        config.parameters = parameters
        return with(config)
    }

    private func with(_ config: ModelConfig) -> StoredModel {
        StoredModel(
            name: name, path: path, config: config, configText: configText, versions: versions,
            defaultVersion: defaultVersion, artifacts: artifacts, archiveDigest: archiveDigest)
    }
}

/// A folder of models: one subfolder per model holding a `model.json`, or one model archive
/// `<name>.cfa` per model (see ``ModelArchive``), decrypted in memory with a key from `keys`. Or, as KServe's storage
/// initializer leaves it at `/mnt/models`, a folder that is one model (see ``Layout/singleModel(_:)``).
///
/// Versions are numbered subfolders (`1/`, `2/`, ...) holding that version's artifacts; a model with
/// none has a single version `1` whose artifacts sit next to `model.json`. An archive is version `1`, and its
/// header must name the model it is stored as and that version.
public struct ModelStore: Sendable {
    /// How the store's folder holds its models.
    public enum Layout: Sendable, Equatable {
        /// One subfolder or archive per model, named as the model.
        case store
        /// The folder is the one model it holds, served under this name: `model.json` with its files (and version
        /// subfolders) at the top, or else exactly one archive `*.cfa`, whose header must name this model.
        case singleModel(String)
    }

    /// The store's folder.
    public let path: String
    /// How the folder holds its models.
    public let layout: Layout
    /// Where the keys of encrypted archives come from; `nil` refuses encrypted archives.
    public let keys: ArchiveKeyLookup?
    /// Which models must be encrypted archives.
    public let requiredEncryption: EncryptionRequirement

    /// The extension of model archives.
    public static let archiveExtension = "cfa"
    /// The version an archive is served as.
    public static let archiveVersion = "1"

    /// Opens a model store folder.
    public init(
        path: String, layout: Layout = .store, keys: ArchiveKeyLookup? = nil,
        requiredEncryption: EncryptionRequirement = .none
    ) {
        self.path = path
        self.layout = layout
        self.keys = keys
        self.requiredEncryption = requiredEncryption
    }

    /// Reads every model. A model whose folder or configuration is broken comes back as a failure
    /// naming the model, so the rest still load.
    public func scan() throws(ModelStoreError) -> [Result<StoredModel, ModelLoadFailure>] {
        if case .singleModel(let name) = layout {
            guard isDirectory(path) else { throw ModelStoreError("the model folder \(path) is not a folder") }
            do throws(ModelStoreError) {
                return [.success(try load(name: name))]
            } catch {
                return [.failure(ModelLoadFailure(model: name, message: error.message))]
            }
        }
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: path)
        } catch {
            throw ModelStoreError("cannot read the model store \(path): \(error.localizedDescription)")
        }
        return names.sorted().compactMap { entry -> Result<StoredModel, ModelLoadFailure>? in
            let full = (path as NSString).appendingPathComponent(entry)
            let name: String
            if entry.hasSuffix("." + Self.archiveExtension), !isDirectory(full) {
                name = String(entry.dropLast(Self.archiveExtension.count + 1))
            } else if isDirectory(full),
                manager.fileExists(atPath: (full as NSString).appendingPathComponent("model.json"))
            {
                name = entry
            } else {
                return nil
            }
            do throws(ModelStoreError) {
                return .success(try load(name: name))
            } catch {
                return .failure(ModelLoadFailure(model: name, message: error.message))
            }
        }
    }

    /// Reads one model by name: the folder `<name>/`, or else the archive `<name>.cfa`; in a single-model folder,
    /// the folder itself or its one archive.
    public func load(name: String) throws(ModelStoreError) -> StoredModel {
        let (folder, archive) = try location(of: name)
        if !isDirectory(folder), FileManager.default.fileExists(atPath: archive) {
            return try loadArchive(name: name, path: archive)
        }
        if isDirectory(folder), requiredEncryption.applies(to: name) {
            throw ModelStoreError(
                "model '\(name)' must be an encrypted archive, but \(folder) is a folder; pack it with "
                    + "'confide archive create \(folder) --output \(archive) --key-file FILE --key-name NAME'")
        }
        let configPath = (folder as NSString).appendingPathComponent("model.json")
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw ModelStoreError("no model.json in \(folder)", missing: !isDirectory(folder))
        }
        let bytes = [UInt8](data)
        let config = try ModelConfig(json: bytes)
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var versions =
            contents
            .filter {
                !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit)
                    && isDirectory((folder as NSString).appendingPathComponent($0))
            }
            .sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
            .map { (name: $0, path: (folder as NSString).appendingPathComponent($0)) }
        if versions.isEmpty { versions = [(name: "1", path: folder)] }
        let defaultVersion = config.defaultVersion ?? versions[versions.count - 1].name
        guard versions.contains(where: { $0.name == defaultVersion }) else {
            throw ModelStoreError(
                "model.json: default_version \"\(defaultVersion)\" is not one of the versions (\(versions.map(\.name).joined(separator: ", ")))"
            )
        }
        return StoredModel(
            name: name, path: folder, config: config, configText: String(decoding: bytes, as: UTF8.self),
            versions: versions, defaultVersion: defaultVersion, artifacts: nil, archiveDigest: nil)
    }

    /// Where model `name` would be: its folder, and the archive read when that folder is not there.
    private func location(of name: String) throws(ModelStoreError) -> (folder: String, archive: String) {
        guard case .singleModel(let served) = layout else {
            let folder = (path as NSString).appendingPathComponent(name)
            return (folder, folder + "." + Self.archiveExtension)
        }
        guard name == served else {
            throw ModelStoreError("this server serves the one model '\(served)' of \(path)", missing: true)
        }
        if FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("model.json")) {
            return (path, (path as NSString).appendingPathComponent(name + "." + Self.archiveExtension))
        }
        let archives = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasSuffix("." + Self.archiveExtension) }
        guard archives.count == 1, let archive = archives.first else {
            throw ModelStoreError(
                "\(path) holds neither model.json nor exactly one model archive (*.\(Self.archiveExtension)); "
                    + "found \(archives.count) archives", missing: archives.isEmpty)
        }
        return ("", (path as NSString).appendingPathComponent(archive))
    }

    private func loadArchive(name: String, path: String) throws(ModelStoreError) -> StoredModel {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelStoreError("cannot read \(path)")
        }
        let bytes = Array(data)
        let archive: ModelArchive
        do throws(ArchiveError) {
            let header = try ModelArchive.header(of: bytes)
            guard header.model == name else {
                throw ArchiveError(
                    "it belongs to model '\(header.model)', not '\(name)': an archive is served only as the model "
                        + "its header names")
            }
            guard header.version == Self.archiveVersion else {
                throw ArchiveError(
                    "it holds version \(header.version) of '\(name)'; an archive is served as version "
                        + "\(Self.archiveVersion) only")
            }
            var key: SymmetricKey?
            if let keyName = header.keyName {
                guard let keys else {
                    throw ArchiveError(
                        "it is encrypted under key '\(keyName)' and the server has no key provider (--key-provider)")
                }
                do {
                    key = try keys(keyName)
                } catch {
                    throw ArchiveError("its key '\(keyName)' is not available: \(error)")
                }
            } else if requiredEncryption.applies(to: name) {
                throw ArchiveError("model '\(name)' must be an encrypted archive, but this archive is not encrypted")
            }
            archive = try ModelArchive(decoding: bytes, key: key)
        } catch {
            throw ModelStoreError("archive \(path): \(error.message)")
        }
        guard let configBytes = archive.files["model.json"] else {
            throw ModelStoreError("archive \(path) has no model.json")
        }
        let config = try ModelConfig(json: configBytes)
        if let version = config.defaultVersion, version != Self.archiveVersion {
            throw ModelStoreError(
                "model.json: an archive holds version \(Self.archiveVersion) only, not \"\(version)\"")
        }
        return StoredModel(
            name: name, path: path, config: config, configText: String(decoding: configBytes, as: UTF8.self),
            versions: [(name: Self.archiveVersion, path: "")], defaultVersion: Self.archiveVersion,
            artifacts: archive.files, archiveDigest: SubjectDigest.of(bytes))
    }

    private func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// A model that could not be loaded, and why.
public struct ModelLoadFailure: Error, Sendable, CustomStringConvertible {
    /// The model's name.
    public let model: String
    /// Why it failed, for people.
    public let message: String

    public var description: String { "model '\(model)': \(message)" }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
