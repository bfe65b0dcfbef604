import ConfideHost
import ConfideSDK
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
                try request.respond("threads", dataType: .int64, shape: [2],
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

@Suite("The host's parallel-for (ABI 1.1)")
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
