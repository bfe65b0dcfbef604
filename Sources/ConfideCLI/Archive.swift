import ArgumentParser
import ConfideJSON
import ConfideRuntime
import Crypto
import Foundation

/// `confide archive`: pack model folders into (optionally encrypted) archives for the model store.
struct Archive: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pack a model into one archive file, optionally encrypted with AES-256-GCM.",
        subcommands: [Create.self, Keygen.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack a model folder (model.json and artifacts) into NAME.cfa for the model store.",
            discussion: """
                The archive's header names the model (and its version, 1) it belongs to: the server serves it only \
                as that model, so an archive put in another model's place is refused.
                """)

        @Argument(help: "The model folder.")
        var folder: String

        @Option(help: "The archive to write, NAME.cfa: the model store serves it as the model NAME.")
        var output: String

        @Option(
            help: """
                The model the archive belongs to (default: the output's NAME); the store serves it only as that model.
                """)
        var model: String?

        @Option(help: "A file holding the 32-byte key (raw or 64 hex digits) to encrypt with.")
        var keyFile: String?

        @Option(
            help:
                "The key's name, which the server asks its key provider for (for the key broker: repository/type/tag).")
        var keyName: String?

        func validate() throws {
            guard (keyFile == nil) == (keyName == nil) else {
                throw ValidationError("give --key-file and --key-name together")
            }
            guard output.hasSuffix(".\(ModelStore.archiveExtension)") else {
                throw ValidationError("--output must end in .cfa")
            }
            if let keyName {
                do throws(KeyNameError) {
                    _ = try KeyName(keyName)
                } catch {
                    throw ValidationError("--key-name: \(error.message)")
                }
            }
        }

        /// The model name the store gives the output file: its name without `.cfa`.
        private var outputName: String {
            String(URL(fileURLWithPath: output).lastPathComponent.dropLast(ModelStore.archiveExtension.count + 1))
        }

        func run() throws {
            let archive = try ModelArchive(
                packing: folder, model: model ?? outputName, version: ModelStore.archiveVersion,
                keyName: keyName.map(KeyName.init))
            var key: SymmetricKey?
            if let keyFile {
                guard let data = FileManager.default.contents(atPath: keyFile) else {
                    throw ValidationError("cannot read \(keyFile)")
                }
                key = try Self.key(Array(data))
            }
            let bytes = try archive.encoded(key: key)
            try Data(bytes).write(to: URL(fileURLWithPath: output))
            print(
                "wrote \(output): model '\(archive.model)' version \(archive.version), \(archive.files.count) files, "
                    + "\(bytes.count) bytes\(keyName.map { ", encrypted under '\($0)'" } ?? "")")
            if archive.model != outputName {
                print(
                    "serve it as \(archive.model).\(ModelStore.archiveExtension): the store refuses it under any "
                        + "other name")
            }
        }

        private static func key(_ bytes: [UInt8]) throws -> SymmetricKey {
            if bytes.count == 32 { return SymmetricKey(data: bytes) }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let key = Hex.decode(text), key.count == 32 else {
                throw ValidationError("the key file must hold 32 bytes or 64 hex digits")
            }
            return SymmetricKey(data: key)
        }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new random 256-bit key as 64 hex digits.")

        @Argument(help: "The key file to write (created with mode 0600).")
        var output: String

        func run() throws {
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            let text = Hex.encode(key) + "\n"
            guard
                FileManager.default.createFile(
                    atPath: output, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else {
                throw ValidationError("cannot write \(output)")
            }
            print("wrote a 256-bit key to \(output)")
        }
    }
}
