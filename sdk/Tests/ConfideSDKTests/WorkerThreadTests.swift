import ConfideHost
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("A worker thread")
struct WorkerThreadTests {
    @Test("runs jobs in the order they were submitted, off the caller's thread, with its team current")
    func runsJobsInOrderOnItsThread() throws {
        let worker = try WorkerThread(name: "test-order", threads: 3)
        defer { worker.stop() }
        let order = Mutex<[Int]>([])
        for index in 0..<100 {
            worker.submit { order.withLock { $0.append(index) } }
        }
        let caller = pthread_self()
        let (onOtherThread, teamSize) = worker.run {
            (pthread_equal(pthread_self(), caller) == 0, ThreadTeam.current?.size)
        }
        #expect(order.withLock { $0 } == Array(0..<100))
        #expect(onOtherThread)
        #expect(teamSize == 3)
    }

    @Test("calls its affinity once on every thread of its team, with each thread's index")
    func placesEveryThread() throws {
        let placed = Mutex<[Int]>([])
        let worker = try WorkerThread(name: "test-affinity", threads: 4) { index in
            placed.withLock { $0.append(index) }
        }
        // Helpers start on their own; a loop over four indices needs the whole team to have started to see all.
        worker.run {}
        var waited = 0
        while placed.withLock({ $0.count }) < 4, waited < 5_000 {
            usleep(1_000)
            waited += 1
        }
        worker.stop()
        #expect(placed.withLock { $0.sorted() } == [0, 1, 2, 3])
    }

    @Test("hands back a job's error to the caller")
    func rethrowsTheJobsError() throws {
        struct Refused: Error, Equatable {}
        let worker = try WorkerThread(name: "test-error", threads: 1)
        defer { worker.stop() }
        #expect(throws: Refused()) { try worker.run { () throws(Refused) -> Int in throw Refused() } }
        #expect(worker.run { 7 } == 7)
    }

    @Test("finishes the jobs already submitted when stopped, and drops later ones")
    func stopDrainsThenRefuses() throws {
        let worker = try WorkerThread(name: "test-stop", threads: 2)
        let ran = Mutex(0)
        for _ in 0..<50 {
            worker.submit {
                usleep(100)
                ran.withLock { $0 += 1 }
            }
        }
        worker.stop()
        #expect(ran.withLock { $0 } == 50)
        worker.submit { ran.withLock { $0 += 1 } }
        worker.stop()
        #expect(ran.withLock { $0 } == 50)
    }
}
