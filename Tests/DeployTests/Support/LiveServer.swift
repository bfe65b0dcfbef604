import ConfideClient
import ConfideHTTPClient
import ConfideServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A real Confide server on free loopback ports, serving the Echo handler built with the tests, with
/// simulated attestation evidence.
struct LiveServer {
    let server: InferenceServer
    private let root: URL

    /// Where the build put its products: the folder holding this test binary.
    static let buildProducts = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()

    /// Starts a server with a model store of `models` (name → model.json); `tokens` guards its APIs as
    /// `--tokens` does.
    static func start(
        tokens: TokenStore?, models: [String: String] = ["echo": #"{"handler": "echo"}"#]
    ) async throws -> LiveServer {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "confide-deploy-test-\(UUID().uuidString)")
        let handlers = root.appendingPathComponent("handlers")
        try FileManager.default.createDirectory(at: handlers, withIntermediateDirectories: true)
        for (name, configuration) in models {
            let folder = root.appendingPathComponent("models/\(name)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(configuration.utf8).write(to: folder.appendingPathComponent("model.json"))
        }
        // The kernel table is one per process: every server the tests start carries the kernel plugins, so
        // that none withdraws it from models that other tests run alongside.
        for product in ["Echo", "KernelsPortable", "KernelsAVX2", "KernelsAVX512"] {
            let library = buildProducts.appendingPathComponent("lib\(product).so")
            guard FileManager.default.fileExists(atPath: library.path) else {
                throw DeployFileError("build the \(product) product first (swift build): \(library.path) is missing")
            }
            try FileManager.default.createSymbolicLink(
                at: handlers.appendingPathComponent(library.lastPathComponent), withDestinationURL: library)
        }
        var configuration = ServerConfiguration(
            handlersDirectory: handlers.path, modelsDirectory: root.appendingPathComponent("models").path)
        configuration.port = 0
        configuration.metricsPort = 0
        configuration.grpcPort = nil
        configuration.managementPort = 0
        configuration.tokens = tokens
        configuration.attestation = .simulated
        // A test client on a loaded 2-core CI machine can stall for seconds between connecting and writing.
        configuration.connections.headerTimeout = .seconds(120)
        configuration.connections.idleTimeout = .seconds(120)
        var logger = Logger(label: "confide-deploy-test")
        logger.logLevel = .error
        let server = try await InferenceServer.start(configuration, logger: logger)
        return LiveServer(server: server, root: root)
    }

    var port: Int { server.http.port }

    var metricsPort: Int? { server.metrics?.port }

    /// Sends one request on a new connection.
    func send(
        port: Int, _ method: HTTPMethod, _ uri: String, body: String = "", token: String? = nil
    ) async throws -> ClientResponse {
        let connection = try await HTTPConnection.connect(host: "127.0.0.1", port: port)
        var headers = HTTPHeaders()
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await connection.send(
            ClientRequest(
                method: method, uri: uri, headers: headers, body: ByteBuffer(string: body)))
        await connection.close()
        return response
    }

    func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(at: root)
    }
}

/// Metric and label names in the Prometheus text format.
struct Exposition {
    /// Every sample's name (`confide_request_duration_seconds_bucket`, ...).
    private(set) var sampleNames: Set<String> = []
    /// Every label name of every sample.
    private(set) var labelNames: Set<String> = []

    init(_ text: String) throws {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            let name = line.prefix { $0 != "{" && $0 != " " }
            sampleNames.insert(String(name))
            var rest = line.dropFirst(name.count)
            guard rest.first == "{" else { continue }
            rest = rest.dropFirst()
            while let equals = rest.firstIndex(of: "=") {
                labelNames.insert(rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", ")))
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { throw DeployFileError("a label value in '\(line)' is not quoted") }
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    }
                }
                if rest.first == "}" { break }
            }
        }
    }
}
