/// Where one worker runs: a NUMA node and the cores it owns.
public struct WorkerPlacement: Sendable, Equatable, CustomStringConvertible {
    /// The worker's index within its model.
    public let index: Int
    /// The NUMA node.
    public let node: Int
    /// The cores it owns, disjoint from its model's other workers.
    public let cpus: [Int]

    public var description: String {
        "worker \(index): node \(node), cpus \(cpus.map(String.init).joined(separator: ","))"
    }
}

/// What a model asks for: `workers` workers of `coresPerWorker` cores, on `node` or wherever fits.
public struct PlacementRequest: Sendable, Equatable {
    /// The number of workers.
    public var workers: Int
    /// The cores each worker owns.
    public var coresPerWorker: Int
    /// The NUMA node, or `nil` to place automatically.
    public var node: Int?

    /// Creates a request.
    public init(workers: Int, coresPerWorker: Int, node: Int?) {
        self.workers = workers
        self.coresPerWorker = coresPerWorker
        self.node = node
    }
}

/// Assigns workers to cores. A model's workers get disjoint cores on one node; different models are
/// spread over the least used cores, sharing cores only when the machine has too few.
public struct PlacementPlanner: Sendable {
    /// The machine.
    public let topology: Topology
    private var load: [Int: Int] = [:]

    /// Plans on a topology.
    public init(topology: Topology) {
        self.topology = topology
    }

    /// Places one model's workers, or explains why they cannot be placed. Cores in `avoiding` (a model's
    /// existing workers, when it scales up) are not used; new workers are numbered from `firstIndex`.
    public mutating func place(_ request: PlacementRequest, avoiding: Set<Int> = [], firstIndex: Int = 0)
        throws(TopologyError) -> [WorkerPlacement]
    {
        let needed = request.workers * request.coresPerWorker
        let candidates: [Topology.Node]
        if let id = request.node {
            guard let node = topology.nodes.first(where: { $0.id == id }) else {
                let known = topology.nodes.map { String($0.id) }.joined(separator: ", ")
                throw TopologyError("NUMA node \(id) does not exist (nodes with usable CPUs: \(known))")
            }
            candidates = [node]
        } else {
            candidates = topology.nodes
        }
        let usable = candidates.map { Topology.Node(id: $0.id, cpus: $0.cpus.filter { !avoiding.contains($0) }) }
        let fitting = usable.filter { $0.cpus.count >= needed }
        guard !fitting.isEmpty else {
            let largest = usable.map(\.cpus.count).max() ?? 0
            let location = request.node.map { "NUMA node \($0)" } ?? "any NUMA node"
            throw TopologyError(
                "\(request.workers) workers × \(request.coresPerWorker) cores need \(needed) cores on one node, but \(location) has at most \(largest)"
            )
        }
        // The node whose least used cores are least used, then the lowest numbered.
        let node = fitting.min { cost($0, needed) < cost($1, needed) } ?? fitting[0]
        let cpus = Array(node.cpus.sorted { (load[$0, default: 0], $0) < (load[$1, default: 0], $1) }.prefix(needed))
            .sorted()
        for cpu in cpus { load[cpu, default: 0] += 1 }
        return (0..<request.workers).map { index in
            let own = Array(cpus[(index * request.coresPerWorker)..<((index + 1) * request.coresPerWorker)])
            return WorkerPlacement(index: firstIndex + index, node: node.id, cpus: own)
        }
    }

    /// Gives back the cores of workers that stopped.
    public mutating func release(_ placements: [WorkerPlacement]) {
        for cpu in placements.flatMap(\.cpus) {
            load[cpu, default: 0] -= 1
            if load[cpu, default: 0] <= 0 { load[cpu] = nil }
        }
    }

    private func cost(_ node: Topology.Node, _ needed: Int) -> Int {
        node.cpus.map { load[$0, default: 0] }.sorted().prefix(needed).reduce(0, +)
    }
}
