import ConfideHost
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Squares every element with the worker's parallel-for and reports how many threads took part.
struct Squarer: Handler {
    static let name = "squarer"
    init(model: ModelContext) {}

    func makeInstance(worker: WorkerContext) -> Instance { Instance(worker: worker) }

    struct Instance: HandlerInstance {
        let worker: WorkerContext

        func execute(_ batch: Batch) {
            batch.forEachRequest { request in
                let x = Array(try request.input("x").elements(as: Int64.self))
                var y = [Int64](repeating: -1, count: x.count)
                let threads = Mutex<Set<UInt>>([])
                y.withUnsafeMutableBufferPointer { out in
                    let out = UnsafeMutableBufferPointerBox(out)
                    worker.parallelFor(count: x.count, grain: 64) { range in
                        threads.withLock { _ = $0.insert(UInt(bitPattern: Int(pthread_self()))) }
                        // Large loops take long enough per chunk that sleeping helpers wake and take part.
                        if x.count >= 100_000 { usleep(5_000) }
                        for index in range { out.buffer[index] = x[index] * x[index] }
                    }
                }
                try request.respond("y", dataType: .int64, shape: [Int64(y.count)], elements: y)
                try request.respond(
                    "threads", dataType: .int64, shape: [2],
                    elements: [Int64(threads.withLock { $0.count }), Int64(worker.threadCount)])
            }
        }
    }
}

/// Lets a loop body write disjoint parts of one buffer from several threads.
struct UnsafeMutableBufferPointerBox: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Int64>
    init(_ buffer: UnsafeMutableBufferPointer<Int64>) { self.buffer = buffer }
}

@Suite("The host's parallel-for")
struct ParallelForTests {
    @Test(arguments: [1, 2, 4])
    func everyIterationRunsExactlyOnceOnTheWorkersTeam(cores: Int) throws {
        let tester = try HandlerTester(Squarer.self, worker: WorkerInfo(coreCount: cores))
        for count in [0, 1, 63, 64, 65, 1000, 100_003] {
            let x = (0..<count).map { Int64($0) - 500 }
            let input = try #require(HostTensor(name: "x", dataType: .int64, shape: [Int64(count)], values: x))
            let outputs = try tester.infer([input])
            #expect(outputs["y"]?.values(as: Int64.self) == x.map { $0 * $0 })
            let threads = try #require(outputs["threads"]?.values(as: Int64.self))
            #expect(threads[1] == Int64(cores))
            #expect(threads[0] <= Int64(cores))
            if count >= 100_000 && cores > 1 { #expect(threads[0] > 1, "a large loop should use more than one thread") }
        }
    }
}

/// What a stress loop's body writes: how often each index ran, and whether any ran outside the loop.
private struct Tally {
    var runs: UnsafeMutablePointer<Int32>
    var count: UInt64
    var outOfRange: UnsafeMutablePointer<Int32>
}

@Suite("The thread team under back-to-back loops")
struct ThreadTeamTests {
    /// Thousands of loops of changing sizes, each started the moment the last one ends: a thread still inside
    /// a finished loop must never claim anything with that loop's bounds or the next loop's body.
    @Test(arguments: [2, 3, 4])
    func everyIndexOfEveryLoopRunsExactlyOnce(threads: Int) {
        let team = ThreadTeam(size: threads)
        defer { team.stop() }
        let capacity = 256
        let runs = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        let outOfRange = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        defer {
            runs.deallocate()
            outOfRange.deallocate()
        }
        var state: UInt64 = 12_345
        var failures = 0
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let count = Int(state >> 33) % capacity + 1
            runs.initialize(repeating: 0, count: capacity)
            outOfRange.pointee = 0
            var tally = Tally(runs: runs, count: UInt64(count), outOfRange: outOfRange)
            withUnsafeMutablePointer(to: &tally) { pointer in
                team.parallelFor(count: count, grain: 1, context: UnsafeMutableRawPointer(pointer)) {
                    context, begin, end in
                    guard let tally = context?.assumingMemoryBound(to: Tally.self).pointee else { return }
                    if end > tally.count { tally.outOfRange.pointee = 1 }
                    for index in Int(begin)..<Int(min(end, tally.count)) {
                        // A little work per index keeps every thread busy to the end of each loop, so threads
                        // leave a loop together, as they do in a model's layers.
                        var spin = UInt64(index)
                        for _ in 0..<200 { spin = spin &* 2_862_933_555_777_941_757 &+ 3_037_000_493 }
                        tally.runs[index] += spin == 1 ? 2 : 1
                    }
                }
            }
            let wrong = (0..<capacity).filter { runs[$0] != ($0 < count ? 1 : 0) }.count
            if wrong > 0 || outOfRange.pointee != 0 { failures += 1 }
        }
        #expect(failures == 0)
    }
}
