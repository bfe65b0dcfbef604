import CConfideSystem
import Foundation

/// The machine's NUMA nodes and the CPUs of each that this process may use.
public struct Topology: Sendable, Equatable {
    /// One NUMA node.
    public struct Node: Sendable, Equatable {
        /// The node's number.
        public let id: Int
        /// The usable CPUs on it, ascending.
        public let cpus: [Int]

        /// Creates a node.
        public init(id: Int, cpus: [Int]) {
            self.id = id
            self.cpus = cpus
        }
    }

    /// The nodes with at least one usable CPU, by number.
    public let nodes: [Node]

    /// Creates a topology.
    public init(nodes: [Node]) {
        self.nodes = nodes.filter { !$0.cpus.isEmpty }.sorted { $0.id < $1.id }
    }

    /// Reads the topology from a sysfs tree (`<root>/node/node<N>/cpulist`; without node folders, one node
    /// holding `<root>/cpu/online`), keeping only the CPUs in `allowed` when given (the process's mask).
    public static func read(sysfs root: String = "/sys/devices/system", allowed: Set<Int>? = nil) throws(TopologyError)
        -> Topology
    {
        func keep(_ cpus: [Int]) -> [Int] { allowed.map { set in cpus.filter(set.contains) } ?? cpus }
        let nodeRoot = (root as NSString).appendingPathComponent("node")
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: nodeRoot)) ?? []
        var nodes: [Node] = []
        for entry in entries where entry.hasPrefix("node") {
            guard let id = Int(entry.dropFirst(4)) else { continue }
            let path = ((nodeRoot as NSString).appendingPathComponent(entry) as NSString).appendingPathComponent(
                "cpulist")
            nodes.append(Node(id: id, cpus: keep(try parseList(contentsOf: path))))
        }
        if nodes.isEmpty {
            let online = ((root as NSString).appendingPathComponent("cpu") as NSString).appendingPathComponent("online")
            nodes = [Node(id: 0, cpus: keep(try parseList(contentsOf: online)))]
        }
        let topology = Topology(nodes: nodes)
        guard !topology.nodes.isEmpty else { throw TopologyError("no usable CPU found under \(root)") }
        return topology
    }

    /// Parses a kernel CPU list such as `0-3,8,10-11`.
    public static func parseList(_ text: String) throws(TopologyError) -> [Int] {
        var cpus: [Int] = []
        for part in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]),
                low >= 0, low <= high, high < 65_536
            else { throw TopologyError("malformed CPU list '\(text)'") }
            cpus.append(contentsOf: low...high)
        }
        return Array(Set(cpus)).sorted()
    }

    private static func parseList(contentsOf path: String) throws(TopologyError) -> [Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TopologyError("cannot read \(path)")
        }
        return try parseList(text)
    }
}

/// A problem with the machine's topology or a requested placement.
public struct TopologyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension Topology {
    /// This machine's topology, limited to the CPUs this process may run on (its cgroup or taskset mask).
    public static func current() throws(TopologyError) -> Topology {
        var buffer = [Int32](repeating: 0, count: 4096)
        let count = Int(confide_process_cpus(&buffer, Int32(buffer.count)))
        let allowed = count > 0 ? Set(buffer.prefix(count).map(Int.init)) : nil
        return try read(allowed: allowed)
    }
}
