import ConfideClient
import ConfideHTTPClient
import ConfideServer
import Foundation
import NIOHTTP1
import Testing

@Suite("Probes and scraping against a real server guarded by the dev overlay's token file")
struct ProbeTests {
    /// The token whose SHA-256 the dev overlay's token file holds; deploy/README.md documents it.
    static let devToken = "confide-dev-token"
    static let devTokens = "deploy/kubernetes/overlays/dev/tokens.json"

    struct Probes {
        var startup: Set<String> = []
        var liveness: Set<String> = []
        var readiness: Set<String> = []
        var metrics: Set<String> = []
    }

    /// Every probe path and metrics path of every rendering.
    static func probes() throws -> Probes {
        var probes = Probes()
        for folder in ConfideDeployment.kustomizations {
            let deployment = try ConfideDeployment(folder)
            func path(_ probe: String) throws -> String {
                try #require(
                    deployment.container.at(probe, "httpGet", "path")?.string, "\(folder): \(probe) has no path")
            }
            probes.startup.insert(try path("startupProbe"))
            probes.liveness.insert(try path("livenessProbe"))
            probes.readiness.insert(try path("readinessProbe"))
            let annotation = deployment.deployment.value.at(
                "spec", "template", "metadata", "annotations", "prometheus.io/path")
            probes.metrics.insert(try #require(annotation?.string, "\(folder): no prometheus.io/path"))
        }
        return probes
    }

    @Test func theDevTokenIsDocumented() throws {
        let readme = try Repository.text("deploy/README.md")
        #expect(readme.contains(Self.devToken), "deploy/README.md does not document the dev token")
        let store = try TokenStore(contentsOf: Repository.path(Self.devTokens))
        #expect(store.entries.count == 1)
    }

    /// The kubelet and Prometheus send no token: the probes and /metrics must answer without one while the
    /// inference API refuses requests without one.
    @Test func probesAndMetricsAnswerWithoutATokenWhileInferenceNeedsOne() async throws {
        let probes = try Self.probes()
        let server = try await LiveServer.start(tokens: try TokenStore(contentsOf: Repository.path(Self.devTokens)))
        defer { Task { await server.stop() } }
        for path in probes.startup.union(probes.liveness).union(probes.readiness).sorted() {
            let response = try await server.send(port: server.port, .GET, path)
            #expect(response.status == .ok, "GET \(path) without a token: \(response.status)")
        }
        let metricsPort = try #require(server.metricsPort)
        for path in probes.metrics.sorted() {
            let response = try await server.send(port: metricsPort, .GET, path)
            #expect(response.status == .ok, "GET \(path) on the metrics port: \(response.status)")
            #expect(response.text.contains("confide_"), "GET \(path) is not the server's metrics")
        }
        let body = #"{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[7]}]}"#
        let refused = try await server.send(port: server.port, .POST, "/v2/models/echo/infer", body: body)
        #expect(refused.status == .unauthorized)
        let accepted = try await server.send(
            port: server.port, .POST, "/v2/models/echo/infer", body: body, token: Self.devToken)
        #expect(accepted.status == .ok, "\(accepted.text)")
    }

    /// A model that fails to load must take the pod out of the Service (readiness) without having the kubelet
    /// restart it over and over (liveness, startup).
    @Test func readinessFollowsTheModelsWhileLivenessDoesNot() async throws {
        let probes = try Self.probes()
        let server = try await LiveServer.start(
            tokens: nil, models: ["echo": #"{"handler": "echo"}"#, "broken": #"{"handler": "no-such-handler"}"#])
        defer { Task { await server.stop() } }
        for path in probes.readiness.sorted() {
            let response = try await server.send(port: server.port, .GET, path)
            #expect(response.status != .ok, "GET \(path) says ready while a model failed to load")
        }
        for path in probes.liveness.union(probes.startup).sorted() {
            let response = try await server.send(port: server.port, .GET, path)
            #expect(
                response.status == .ok,
                "GET \(path) fails because a model failed to load: the kubelet would restart the pod forever")
        }
    }
}
