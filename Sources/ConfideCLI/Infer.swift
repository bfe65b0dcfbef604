import ArgumentParser
import ConfideAttestation
import ConfideClient
import ConfideHTTPClient
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
            With --encrypted, first verifies the server's attestation evidence (GET /attestation) against the policy
            flags, then sends the request end to end encrypted (Oblivious HTTP) to the key the evidence binds.
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

    @Flag(help: "Encrypt the request end to end to a key the server's attestation evidence vouches for.")
    var encrypted = false

    @OptionGroup(title: "Attestation policy (with --encrypted)")
    var policy: PolicyOptions

    func validate() throws {
        guard text.isEmpty != (json == nil) else { throw ValidationError("give either --text or --json") }
    }

    func run() async throws {
        let address = try ServerAddress(url)
        let request = try makeRequest()
        let response: ClientResponse
        if encrypted {
            let client = try await ObliviousClient.connect(
                host: address.host, port: address.port, policy: try policy.policy())
            do {
                let keys = try await client.attest()
                Attest.report(keys, to: .standardError)
                response = try await client.send(request)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        } else {
            let connection = try await HTTPConnection.connect(host: address.host, port: address.port)
            do {
                response = try await connection.send(request)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
        print(response.text)
        guard response.status == .ok else { throw ExitCode(1) }
    }

    private func makeRequest() throws -> ClientRequest {
        if torchserve {
            let body = try json.map(Self.read) ?? Array(text.joined(separator: "\n").utf8)
            let path = "/predictions/\(model)" + (modelVersion.map { "/\($0)" } ?? "")
            return ClientRequest(
                method: .POST, uri: path, headers: ["Content-Type": json == nil ? "text/plain" : "application/json"],
                body: ByteBuffer(bytes: body))
        }
        if let json {
            let path = "/v2/models/\(model)" + (modelVersion.map { "/versions/\($0)" } ?? "") + "/infer"
            return ClientRequest(
                method: .POST, uri: path, headers: ["Content-Type": "application/json"],
                body: ByteBuffer(bytes: try Self.read(json)))
        }
        guard let input = InferTensor(name: inputName, strings: text) else {
            throw ValidationError("cannot encode the texts")
        }
        return try KServeClient.request(model: model, version: modelVersion, inputs: [input], binary: false)
    }

    private static func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        return Array(data)
    }
}
