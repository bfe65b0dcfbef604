import ConfideJSON
import Foundation

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

    /// The same model with another number of workers.
    func withWorkers(_ workers: Int) -> StoredModel {
        var config = config
        config.workers = workers
        return StoredModel(
            name: name, path: path, config: config, configText: configText, versions: versions, defaultVersion: defaultVersion)
    }
}

/// A folder of models: one subfolder per model holding a `model.json`.
///
/// Versions are numbered subfolders (`1/`, `2/`, ...) holding that version's artifacts; a model with
/// none has a single version `1` whose artifacts sit next to `model.json`.
public struct ModelStore: Sendable {
    /// The store's folder.
    public let path: String

    /// Opens a model store folder.
    public init(path: String) {
        self.path = path
    }

    /// Reads every model. A model whose folder or configuration is broken comes back as a failure
    /// naming the model, so the rest still load.
    public func scan() throws(ModelStoreError) -> [Result<StoredModel, ModelLoadFailure>] {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: path)
        } catch {
            throw ModelStoreError("cannot read the model store \(path): \(error.localizedDescription)")
        }
        return names.sorted().compactMap { name -> Result<StoredModel, ModelLoadFailure>? in
            let folder = (path as NSString).appendingPathComponent(name)
            guard isDirectory(folder), manager.fileExists(atPath: (folder as NSString).appendingPathComponent("model.json"))
            else { return nil }
            do throws(ModelStoreError) {
                return .success(try load(name: name))
            } catch {
                return .failure(ModelLoadFailure(model: name, message: error.message))
            }
        }
    }

    /// Reads one model by name.
    public func load(name: String) throws(ModelStoreError) -> StoredModel {
        let folder = (path as NSString).appendingPathComponent(name)
        let configPath = (folder as NSString).appendingPathComponent("model.json")
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw ModelStoreError("no model.json in \(folder)")
        }
        let bytes = [UInt8](data)
        let config = try ModelConfig(json: bytes)
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var versions = contents
            .filter { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) && isDirectory((folder as NSString).appendingPathComponent($0)) }
            .sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
            .map { (name: $0, path: (folder as NSString).appendingPathComponent($0)) }
        if versions.isEmpty { versions = [(name: "1", path: folder)] }
        let defaultVersion = config.defaultVersion ?? versions[versions.count - 1].name
        guard versions.contains(where: { $0.name == defaultVersion }) else {
            throw ModelStoreError("model.json: default_version \"\(defaultVersion)\" is not one of the versions (\(versions.map(\.name).joined(separator: ", ")))")
        }
        return StoredModel(
            name: name, path: folder, config: config, configText: String(decoding: bytes, as: UTF8.self),
            versions: versions, defaultVersion: defaultVersion)
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
