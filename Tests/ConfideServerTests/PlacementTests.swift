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

/// A fake sysfs tree: `nodes[i]` is node i's CPU list.
func makeSysfs(in root: TemporaryDirectory, nodes: [String]) throws -> String {
    let system = try root.subdirectory("system")
    for (id, cpus) in nodes.enumerated() {
        let node = system.appendingPathComponent("node/node\(id)")
        try FileManager.default.createDirectory(at: node, withIntermediateDirectories: true)
        try Data("\(cpus)\n".utf8).write(to: node.appendingPathComponent("cpulist"))
    }
    return system.path
}

@Suite("Worker placement on NUMA nodes")
struct PlacementTests {
    @Test func readsTopologiesFromSysfs() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let two = try Topology.read(sysfs: makeSysfs(in: root, nodes: ["0-3", "4-7"]))
        #expect(two.nodes == [Topology.Node(id: 0, cpus: [0, 1, 2, 3]), Topology.Node(id: 1, cpus: [4, 5, 6, 7])])
        let masked = try Topology.read(sysfs: root.path + "/system", allowed: [1, 2, 5])
        #expect(masked.nodes.map(\.cpus) == [[1, 2], [5]])
    }

    @Test func parsesKernelCPUListsAndRejectsMalformedOnes() throws {
        #expect(try Topology.parseList("0-2,8,10-11\n") == [0, 1, 2, 8, 10, 11])
        for bad in ["1-", "a", "3-1", "0--2", "-1"] {
            #expect(throws: TopologyError.self) { try Topology.parseList(bad) }
        }
    }

    @Test func aModelsWorkersGetDisjointCoresOnOneNode() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let topology = try Topology.read(sysfs: makeSysfs(in: root, nodes: ["0-3", "4-7", "8-11", "12-15"]))
        var planner = PlacementPlanner(topology: topology)
        let pinned = try planner.place(PlacementRequest(workers: 2, coresPerWorker: 2, node: 2))
        #expect(pinned.map(\.node) == [2, 2])
        #expect(pinned.map(\.cpus) == [[8, 9], [10, 11]])
        let automatic = try planner.place(PlacementRequest(workers: 3, coresPerWorker: 1, node: nil))
        #expect(Set(automatic.map(\.node)).count == 1)
        #expect(Set(automatic.flatMap(\.cpus)).count == 3)
        #expect(automatic.first?.node == 0, "the least used node comes first")
        let next = try planner.place(PlacementRequest(workers: 4, coresPerWorker: 1, node: nil))
        #expect(next.first?.node == 1, "a second model goes to an unused node")
    }

    @Test func impossiblePlacementsAreRefusedWithAClearError() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        var planner = PlacementPlanner(topology: try Topology.read(sysfs: makeSysfs(in: root, nodes: ["0-1", "2-3"])))
        let tooMany = #expect(throws: TopologyError.self) {
            try planner.place(PlacementRequest(workers: 3, coresPerWorker: 1, node: nil))
        }
        #expect(tooMany?.message.contains("need 3 cores on one node") == true)
        let missing = #expect(throws: TopologyError.self) {
            try planner.place(PlacementRequest(workers: 1, coresPerWorker: 1, node: 7))
        }
        #expect(missing?.message.contains("NUMA node 7 does not exist") == true)
    }

    @Test func workerThreadsArePinnedToTheirCores() async throws {
        let cpus = try Topology.current().nodes.flatMap(\.cpus)
        try #require(cpus.count >= 2, "needs two usable CPUs")
        let server = try await TestServer.start(
            models: [
                "two": #"{"handler": "echo", "workers": 2, "cores_per_worker": 1}"#,
                "team": #"{"handler": "echo", "workers": 1, "cores_per_worker": 2}"#,
            ])
        defer { Task { await server.stop() } }
        for name in ["two", "team"] {
            let workers = try #require(server.server.repository.model(name)?.version(nil)?.scheduler.workers)
            for worker in workers {
                #expect(worker.threadIDs.count == worker.placement.cpus.count)
                for (thread, cpu) in zip(worker.threadIDs, worker.placement.cpus) {
                    // Read the affinity back from the kernel, not from what the scheduler recorded.
                    let status = try String(contentsOfFile: "/proc/self/task/\(thread)/status", encoding: .utf8)
                    let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
                    let allowed = try Topology.parseList(String(line?.split(separator: ":").last ?? ""))
                    #expect(allowed == [cpu], "model \(name) worker \(worker.placement.index) thread \(thread)")
                }
            }
            #expect(Set(workers.flatMap(\.placement.cpus)).count == workers.flatMap(\.placement.cpus).count)
        }
        let metadata = try JSONParser.parse(
            Array(try await send(server.port, .GET, "/v2/models/two").body.readableBytesView))
        #expect(metadata.objectValue?["workers"]?.arrayValue?.count == 2)
    }

    @Test func aModelAskingForMoreCoresThanExistIsRefusedBeforeServing() async throws {
        let server = try await TestServer.start(models: [
            "echo": #"{"handler": "echo"}"#, "greedy": #"{"handler": "echo", "workers": 64, "cores_per_worker": 64}"#,
        ])
        defer { Task { await server.stop() } }
        let failure = server.server.repository.failures.first { $0.model == "greedy" }
        #expect(failure?.message.contains("placement refused") == true)
        #expect(try await send(server.port, .GET, "/v2/models/greedy/ready").status == .serviceUnavailable)
        #expect(try await send(server.port, .POST, "/v2/models/echo/infer", body: int32Request(1)).status == .ok)
    }
}
