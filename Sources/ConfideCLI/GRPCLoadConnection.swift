import ConfideClient
import ConfideKServeGRPC
import GRPCCore
import GRPCNIOTransportHTTP2

/// One HTTP/2 connection to a KServe v2 gRPC server, sending `ModelInfer` calls for `confide bench http --protocol
/// grpc`: each simulated client has a connection of its own, as each REST client has its own HTTP/1.1 connection.
final class GRPCLoadConnection: LoadConnection {
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let service: Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>
    private let running: Task<Void, any Error>

    private init(client: GRPCClient<HTTP2ClientTransport.Posix>, running: Task<Void, any Error>) {
        self.client = client
        self.service = Inference_GRPCInferenceService.Client(wrapping: client)
        self.running = running
    }

    /// Connects to `host:port` and waits until the server answers `ServerLive`.
    static func connect(host: String, port: Int) async throws -> GRPCLoadConnection {
        let transport = try HTTP2ClientTransport.Posix(
            target: host.contains(":") ? .ipv6(address: host, port: port) : .ipv4(address: host, port: port),
            transportSecurity: .plaintext)
        let client = GRPCClient(transport: transport)
        let running = Task { try await client.runConnections() }
        let connection = GRPCLoadConnection(client: client, running: running)
        do {
            _ = try await connection.service.serverLive(Inference_ServerLiveRequest())
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    func succeeds(_ request: Inference_ModelInferRequest) async throws -> Bool {
        _ = try await service.modelInfer(request)
        return true
    }

    func close() async {
        client.beginGracefulShutdown()
        _ = await running.result
    }
}
