import ArgumentParser
import ConfideClient
import ConfideHost
import ConfideSDK
import Foundation
import NIOCore
import NIOHTTP1

/// `confide infer`: send one inference request and print the response.
struct Infer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an inference request.",
        discussion: """
            With --text, sends a KServe v2 request with a BYTES input (named by --input-name) holding the texts.
            With --json, sends the file's KServe v2 request body as it is ('-' reads standard input).
            With --torchserve, sends the text or file as the raw body of TorchServe's POST /predictions/{model}.
            """)

    @Argument(help: "The model's name.")
    var model: String

    @Option(help: "The model version; the model's default version when omitted.")
    var modelVersion: String?

    @Option(help: "The server's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "A text input (repeat for a batch of texts).")
    var text: [String] = []

    @Option(help: "The input name for --text.")
    var inputName = "text"

    @Option(help: "A file holding a KServe v2 JSON request body, or '-' for standard input.")
    var json: String?

    @Flag(help: "Use TorchServe's inference API instead of KServe v2.")
    var torchserve = false

    func validate() throws {
        guard text.isEmpty != (json == nil) else { throw ValidationError("give either --text or --json") }
    }

    func run() async throws {
        guard let components = URLComponents(string: url), let host = components.host else {
            throw ValidationError("--url must look like http://host:port")
        }
        let connection = try await HTTPConnection.connect(host: host, port: components.port ?? 80)
        defer { Task { await connection.close() } }
        let request: ClientRequest
        if torchserve {
            let body = try json.map(Self.read) ?? Array(text.joined(separator: "\n").utf8)
            let path = "/predictions/\(model)" + (modelVersion.map { "/\($0)" } ?? "")
            request = ClientRequest(method: .POST, uri: path, headers: ["Content-Type": json == nil ? "text/plain" : "application/json"],
                                    body: ByteBuffer(bytes: body))
        } else if let json {
            let path = "/v2/models/\(model)" + (modelVersion.map { "/versions/\($0)" } ?? "") + "/infer"
            request = ClientRequest(method: .POST, uri: path, headers: ["Content-Type": "application/json"],
                                    body: ByteBuffer(bytes: try Self.read(json)))
        } else {
            guard let input = HostTensor(name: inputName, strings: text) else { throw ValidationError("cannot encode the texts") }
            request = KServeClient.request(model: model, version: modelVersion, inputs: [input], binary: false)
        }
        let response = try await connection.send(request)
        print(response.text)
        guard response.status == .ok else { throw ExitCode(1) }
    }

    private static func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return Array(data)
    }
}
