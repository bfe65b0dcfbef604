import ConfideClient
import ConfideHTTPClient
import Foundation
import NIOHTTP1
import Testing

@Suite("The Grafana dashboard queries only what the server exports")
struct GrafanaDashboardTests {
    static let path = "deploy/grafana/confide-dashboard.json"

    struct Query {
        let panel: String
        let expression: String
    }

    /// The dashboard's PromQL: every panel target's and every query variable's.
    static func queries() throws -> (dashboard: [String: Any], queries: [Query]) {
        let data = try #require(FileManager.default.contents(atPath: Repository.path(path)), "cannot read \(path)")
        let dashboard = try #require(
            try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is not a JSON object")
        var queries: [Query] = []
        for panel in dashboard["panels"] as? [[String: Any]] ?? [] where panel["type"] as? String != "row" {
            let title = panel["title"] as? String ?? "?"
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "panel \(title) has no query")
            for target in targets {
                let expression = try #require(target["expr"] as? String, "panel \(title): a target without expr")
                queries.append(Query(panel: title, expression: expression))
            }
        }
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in variables where variable["type"] as? String == "query" {
            let definition = try #require(variable["definition"] as? String)
            let match = try #require(
                definition.wholeMatch(
                    of: #/label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/#),
                "variable \(variable["name"] ?? "?"): \(definition) is not label_values(metric, label)")
            queries.append(
                Query(
                    panel: "variable \(variable["name"] ?? "?")",
                    expression: "\(match.output.1){\(match.output.2)=\"\"}"))
        }
        return (dashboard, queries)
    }

    @Test func everyVariableItUsesIsDefined() throws {
        let (dashboard, queries) = try Self.queries()
        #expect(queries.count >= 10)
        let list = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        let variables = Set(list.compactMap { $0["name"] as? String })
        let text = String(
            decoding: try #require(FileManager.default.contents(atPath: Repository.path(Self.path))), as: UTF8.self)
        for match in text.matches(of: #/\$\{?([A-Za-z][A-Za-z0-9_]*)\}?/#) {
            #expect(
                variables.contains(String(match.output.1)),
                "the dashboard uses $\(match.output.1), which it does not define")
        }
        let titles = (dashboard["panels"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
        #expect(Set(titles).count == titles.count, "two panels share a title")
    }

    @Test func everyFunctionItCallsIsPromQL() throws {
        for query in try Self.queries().queries {
            let names = try PromQLNames(query.expression)
            let unknown = names.functions.subtracting(PromQLNames.knownFunctions)
            #expect(
                unknown.isEmpty, "\(query.panel): \(unknown.sorted()) in \(query.expression) are not PromQL functions")
            #expect(!names.metrics.isEmpty, "\(query.panel): \(query.expression) selects no metric")
        }
    }

    /// Every metric and label the dashboard names appears in a real server's /metrics after an inference;
    /// `instance` and `job` are the labels Prometheus adds to every scraped sample.
    @Test func everyMetricAndLabelIsExportedByARealServer() async throws {
        let exported = try await ExportedMetrics.scrape()
        #expect(exported.sampleNames.contains("confide_requests_total"))
        let labels = exported.labelNames.union(["instance", "job"])
        for query in try Self.queries().queries {
            let names = try PromQLNames(query.expression)
            for metric in names.metrics.sorted() {
                #expect(exported.sampleNames.contains(metric), "\(query.panel): the server exports no \(metric)")
            }
            for label in names.labels.sorted() {
                #expect(labels.contains(label), "\(query.panel): the server's metrics carry no label \(label)")
            }
        }
    }
}

/// What a real server exports after one KServe inference (the end-to-end histogram is recorded for KServe
/// requests only).
enum ExportedMetrics {
    static func scrape() async throws -> Exposition {
        let server = try await LiveServer.start(tokens: nil)
        defer { Task { await server.stop() } }
        let body = #"{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[7]}]}"#
        let inference = try await server.send(port: server.port, .POST, "/v2/models/echo/infer", body: body)
        #expect(inference.status == .ok, "\(inference.text)")
        let metrics = try await server.send(port: try #require(server.metricsPort), .GET, "/metrics")
        #expect(metrics.status == .ok)
        return try Exposition(metrics.text)
    }
}
