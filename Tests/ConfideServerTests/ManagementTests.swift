import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideRuntime
import ConfideServer
import ConfideServerTestSupport
import ConfideTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

func json(_ response: ClientResponse) throws -> JSONValue {
    try JSONParser.parse(Array(response.body.readableBytesView))
}

@Suite("The management API")
struct ManagementTests {
    @Test func listsPagesAndDescribesModels() async throws {
        let server = try await TestServer.start(models: [
            "a": #"{"handler": "echo"}"#, "b": #"{"handler": "echo"}"#,
            "c": #"{"handler": "echo", "max_batch_size": 4}"#,
        ])
        defer { Task { await server.stop() } }
        let first = try json(try await send(server.managementPort, .GET, "/models?limit=2"))
        #expect(
            first.objectValue?["models"]?.arrayValue?.compactMap { $0.objectValue?["modelName"]?.stringValue } == [
                "a", "b",
            ])
        #expect(first.objectValue?["nextPageToken"] == .string("2"))
        let second = try json(try await send(server.managementPort, .GET, "/models?limit=2&next_page_token=2"))
        #expect(second.objectValue?["models"]?.arrayValue?.count == 1)
        #expect(second.objectValue?["nextPageToken"] == nil)
        let described = try json(try await send(server.managementPort, .GET, "/models/c"))
        let entry = try #require(described.arrayValue?.first?.objectValue)
        #expect(entry["batchSize"] == .integer(4))
        #expect(entry["workers"]?.arrayValue?.count == 1)
        #expect(entry["modelVersion"] == .string("1"))
        #expect(try await send(server.managementPort, .GET, "/models/zzz").status == .notFound)
    }

    @Test func registersOnlyFromTheModelStore() async throws {
        let server = try await TestServer.start(models: ["echo": #"{"handler": "echo"}"#])
        defer { Task { await server.stop() } }
        let remote = try await send(server.managementPort, .POST, "/models?url=https://example.invalid/model.mar")
        #expect(remote.status == .badRequest)
        #expect(remote.text.contains("remote model URLs are refused"))
        #expect(try await send(server.managementPort, .POST, "/models?url=../etc").status == .badRequest)
        #expect(try await send(server.managementPort, .POST, "/models?url=nothere").status == .notFound)
        #expect(try await send(server.managementPort, .POST, "/models?url=echo").status == .conflict)
        // A model added to the store after start-up is registered by name.
        let folder = server.root.url.appendingPathComponent("models/late")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(#"{"handler": "echo"}"#.utf8).write(to: folder.appendingPathComponent("model.json"))
        #expect(try await send(server.port, .POST, "/v2/models/late/infer", body: int32Request(1)).status == .notFound)
        let registered = try await send(server.managementPort, .POST, "/models?url=late&initial_workers=1")
        #expect(registered.status == .ok, "\(registered.text)")
        #expect(try await send(server.port, .POST, "/v2/models/late/infer", body: int32Request(1)).status == .ok)
    }

    @Test func scalingUpAndDownUnderLoadLosesNoRequest() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 20, #""max_batch_size": 2, "workers": 1"#)])
        defer { Task { await server.stop() } }
        let load = Task {
            try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for value in Int32(0)..<60 {
                    group.addTask {
                        try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(value)).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await waitFor(server, "slow") { $0.busyWorkers == 1 }
        let up = try await send(server.managementPort, .PUT, "/models/slow?min_worker=2")
        #expect(up.status == .ok, "\(up.text)")
        #expect(server.server.repository.model("slow")?.version(nil)?.scheduler.workers.count == 2)
        let down = try await send(server.managementPort, .PUT, "/models/slow?min_worker=1")
        #expect(down.status == .ok, "\(down.text)")
        let statuses = try await load.value
        #expect(statuses.count == 60)
        #expect(statuses.allSatisfy { $0 == .ok }, "\(statuses.map(\.code))")
        let workers = try #require(server.server.repository.model("slow")?.version(nil)?.scheduler.workers)
        #expect(workers.count == 1)
        #expect(try await send(server.managementPort, .PUT, "/models/slow?min_worker=0").status == .badRequest)
    }

    @Test func unregisteringAnswersQueuedRequestsThenStopsServing() async throws {
        let server = try await TestServer.start(
            plugins: ["FixtureSlow"], models: ["slow": slowModel(delayMs: 200, #""max_batch_size": 1"#)])
        defer { Task { await server.stop() } }
        let queued = (0..<3).map { value in
            Task { try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(Int32(value))) }
        }
        try await waitFor(server, "slow") { $0.submittedCount == 3 }
        let removed = try await send(server.managementPort, .DELETE, "/models/slow")
        #expect(removed.status == .ok)
        for request in queued { #expect(try await request.value.status == .ok) }
        #expect(try await send(server.port, .POST, "/v2/models/slow/infer", body: int32Request(9)).status == .notFound)
        #expect(try await send(server.managementPort, .DELETE, "/models/slow").status == .notFound)
    }

    @Test func setsTheDefaultVersion() async throws {
        let server = try await TestServer.start(models: [:])
        defer { Task { await server.stop() } }
        let folder = server.root.url.appendingPathComponent("models/versioned")
        for version in ["1", "2"] {
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent(version), withIntermediateDirectories: true)
        }
        try Data(#"{"handler": "echo"}"#.utf8).write(to: folder.appendingPathComponent("model.json"))
        #expect(try await send(server.managementPort, .POST, "/models?url=versioned").status == .ok)
        func servedVersion() async throws -> JSONValue? {
            try json(try await send(server.port, .POST, "/v2/models/versioned/infer", body: int32Request(1)))
                .objectValue?["model_version"]
        }
        #expect(try await servedVersion() == .string("2"))
        #expect(try await send(server.managementPort, .PUT, "/models/versioned/1/set-default").status == .ok)
        #expect(try await servedVersion() == .string("1"))
        #expect(try await send(server.managementPort, .PUT, "/models/versioned/7/set-default").status == .notFound)
    }

    @Test func theKServeRepositoryExtensionLoadsAndUnloads() async throws {
        let server = try await TestServer.start(models: [
            "echo": #"{"handler": "echo"}"#, "bad": #"{"handler": "nope"}"#,
        ])
        defer { Task { await server.stop() } }
        func states() async throws -> [String: String] {
            let index = try json(try await send(server.managementPort, .POST, "/v2/repository/index"))
            var result: [String: String] = [:]
            for entry in index.arrayValue ?? [] {
                if let name = entry.objectValue?["name"]?.stringValue {
                    result[name] = entry.objectValue?["state"]?.stringValue
                }
            }
            return result
        }
        #expect(try await states() == ["echo": "READY", "bad": "UNAVAILABLE"])
        #expect(try await send(server.managementPort, .POST, "/v2/repository/models/echo/unload").status == .ok)
        #expect(try await states()["echo"] == "UNAVAILABLE")
        #expect(try await send(server.managementPort, .POST, "/v2/repository/models/echo/load").status == .ok)
        #expect(try await states()["echo"] == "READY")
        let ready = try json(
            try await send(server.managementPort, .POST, "/v2/repository/index", body: #"{"ready": true}"#))
        #expect(ready.arrayValue?.count == 1)
        #expect(
            try await send(server.managementPort, .POST, "/v2/repository/models/bad/load").status == .serviceUnavailable
        )
    }

    @Test func theManagementAPIIsNotOnTheInferencePort() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        #expect(try await send(server.port, .GET, "/models").status == .notFound)
        #expect(try await send(server.port, .POST, "/v2/repository/index").status == .notFound)
    }
}
