import ArgumentParser
import ConfideJSON
import ConfideMeasurement
import ConfideRuntime
import Foundation

extension Attest {
    /// `confide attest measure`: the policy an operator publishes for a set of files, computed offline exactly as a
    /// server measures them when it starts.
    struct Measure: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compute the policy file that allows exactly a given executable, plugins and models.",
            discussion: """
                Plugins are loaded (their descriptors name them) and measured as the server measures them; models are \
                measured per version: an archive by the SHA-384 of its file, a folder by the digest of model.json \
                and the version's files (docs/MEASUREMENTS.md). The policy is printed, or written with --output.
                """)

        @Option(help: "The plugin folder the server will load.")
        var handlers: String = "handlers"

        @Option(help: "The model store the server will serve.")
        var models: String?

        @Option(
            help: ArgumentHelp(
                "The one-model folder the server will serve (serve --model-dir).", valueName: "folder"))
        var modelDir: String?

        @Option(help: "The name the server serves --model-dir as (serve --model-name).")
        var modelName: String?

        @Option(help: ArgumentHelp("The server executable; this confide binary when omitted.", valueName: "file"))
        var executable: String?

        @Option(
            help: ArgumentHelp(
                "A setting the server must have, e.g. authentication=tokens or management=off (repeat).",
                valueName: "name=value"))
        var require: [String] = []

        @Option(help: ArgumentHelp("Write the policy to this file instead of printing it.", valueName: "file"))
        var output: String?

        func validate() throws {
            guard (modelDir == nil) == (modelName == nil) else {
                throw ValidationError("--model-dir and --model-name go together")
            }
        }

        func run() throws {
            var policy = MeasurementPolicy()
            policy.executables = [try digest(executable ?? "/proc/self/exe")]
            let log = MeasurementLog()
            let registry = HandlerRegistry.scan(directory: handlers, measurements: log)
            for refusal in registry.refusals {
                FileHandle.standardError.write(Data("refused, not in the policy: \(refusal)\n".utf8))
            }
            for event in log.snapshot.events where event.kind == .plugin {
                policy.plugins.append(MeasurementPolicy.Plugin(name: event.fields["name"] ?? "", digest: event.digest))
            }
            if let models {
                policy.models = try Self.measureModels(models)
            }
            if let modelDir, let modelName {
                // The folder's model.json, or else its one archive (ModelStore.Layout.singleModel).
                let folder = modelDir as NSString
                let archives = ((try? FileManager.default.contentsOfDirectory(atPath: modelDir)) ?? [])
                    .filter { $0.hasSuffix("." + ModelStore.archiveExtension) }
                let hasConfig = FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.json"))
                let archive = hasConfig || archives.count != 1 ? nil : folder.appendingPathComponent(archives[0])
                policy.models += try Self.measureModel(
                    modelName, in: ModelStore(path: modelDir, layout: .singleModel(modelName)), archive: archive)
            }
            for requirement in require {
                let parts = requirement.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else {
                    throw ValidationError("--require takes name=value, not '\(requirement)'")
                }
                policy.settings[String(parts[0])] = String(parts[1])
            }
            let text = JSONValue.object(policy.json.objectValue ?? JSONObject()).serialized + Array("\n".utf8)
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: Data(text)) else {
                    throw ValidationError("cannot write \(output)")
                }
            } else {
                FileHandle.standardOutput.write(Data(text))
            }
        }

        private func digest(_ path: String) throws -> [UInt8] {
            do {
                return try SubjectDigest.ofFile(path)
            } catch {
                throw ValidationError(error.message)
            }
        }

        /// Every version of every model in the store: archives by their file's digest, folders by their tree.
        private static func measureModels(_ folder: String) throws -> [MeasurementPolicy.Model] {
            let store = ModelStore(path: folder)
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            var models: [MeasurementPolicy.Model] = []
            for entry in entries.sorted() {
                let path = (folder as NSString).appendingPathComponent(entry)
                if entry.hasSuffix("." + ModelStore.archiveExtension) {
                    let name = String(entry.dropLast(ModelStore.archiveExtension.count + 1))
                    models += try measureModel(name, in: store, archive: path)
                } else if FileManager.default.fileExists(
                    atPath: (path as NSString).appendingPathComponent("model.json"))
                {
                    models += try measureModel(entry, in: store, archive: nil)
                }
            }
            return models
        }

        /// One model: an archive by its file's digest (its key is not needed), a folder per version by its tree.
        private static func measureModel(
            _ name: String, in store: ModelStore, archive: String?
        ) throws -> [MeasurementPolicy.Model] {
            if let archive {
                let digest = try SubjectDigest.ofFile(archive)
                return [MeasurementPolicy.Model(name: name, version: ModelStore.archiveVersion, digest: digest)]
            }
            let stored = try store.load(name: name)
            return try stored.versions.map { version in
                let event = try stored.measurement(version: version)
                return MeasurementPolicy.Model(name: name, version: version.name, digest: event.digest)
            }
        }
    }
}
