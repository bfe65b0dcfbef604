public import CConfide
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A worker's intra-op thread team: the worker's own thread plus `size - 1` helper threads, which
/// split a parallel-for among themselves. Helpers spin briefly for work, then sleep.
///
/// The team behind ``ConfideHostApi/parallel_for`` is the calling thread's ``current`` team; a thread
/// without one runs the loop alone.
public final class ThreadTeam: @unchecked Sendable {
    /// The number of threads that run a loop, the caller included.
    public let size: Int

    private let generation = Atomic<UInt64>(0)
    private let nextChunk = Atomic<Int>(0)
    private let busyHelpers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepLock = SleepCondition()
    private var helpers: [pthread_t] = []

    // The current loop; written by the caller before it bumps `generation`, read by helpers after.
    private var body: ConfideParallelBody?
    private var context: UnsafeMutableRawPointer?
    private var count = 0
    private var chunk = 1

    /// Starts `size - 1` helper threads; each runs `onStart(index)` first (index 1 ..< size), e.g. to pin
    /// itself to a core.
    public init(size: Int, onStart: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.size = max(1, size)
        for index in 1..<self.size {
            let start = HelperStart(team: self, index: index, onStart: onStart)
            var thread = pthread_t()
            let box = Unmanaged.passRetained(start).toOpaque()
            let created = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let start = Unmanaged<HelperStart>.fromOpaque(raw).takeRetainedValue()
                start.run()
                return nil
            }, box)
            if created == 0 {
                helpers.append(thread)
            } else {
                Unmanaged<HelperStart>.fromOpaque(box).release()
            }
        }
    }

    /// Stops and joins the helper threads.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        sleepLock.broadcast()
        for thread in helpers { pthread_join(thread, nil) }
        helpers.removeAll()
    }

    deinit { stop() }

    /// Runs `body(context, begin, end)` over `[0, count)` in chunks of at least `grain`, on every
    /// thread of the team, and returns when all chunks are done. Call it from the team's own worker
    /// thread only, one loop at a time.
    public func parallelFor(count: Int, grain: Int, context: UnsafeMutableRawPointer?, body: ConfideParallelBody) {
        guard count > 0 else { return }
        let threads = helpers.count + 1
        let grain = max(1, grain)
        guard threads > 1, count > grain else {
            body(context, 0, UInt64(count))
            return
        }
        // About four chunks per thread balances uneven chunks without much contention.
        let chunk = max(grain, (count + threads * 4 - 1) / (threads * 4))
        self.body = body
        self.context = context
        self.count = count
        self.chunk = chunk
        nextChunk.store(0, ordering: .relaxed)
        busyHelpers.store(helpers.count, ordering: .relaxed)
        generation.wrappingAdd(1, ordering: .releasing)
        sleepLock.broadcast()
        work()
        var spins = 0
        while busyHelpers.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
    }

    private func work() {
        guard let body else { return }
        while true {
            let start = nextChunk.wrappingAdd(chunk, ordering: .relaxed).oldValue
            guard start < count else { return }
            body(context, UInt64(start), UInt64(min(count, start + chunk)))
        }
    }

    fileprivate func helperLoop() {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen, !stopping.load(ordering: .relaxed) {
                spins += 1
                if spins > 20_000 {
                    sleepLock.wait { self.generation.load(ordering: .acquiring) != seen || self.stopping.load(ordering: .relaxed) }
                    spins = 0
                }
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = generation.load(ordering: .acquiring)
            work()
            busyHelpers.wrappingSubtract(1, ordering: .releasing)
        }
    }

    // MARK: The calling thread's team

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The team of the calling thread, if it is a worker thread with one.
    public static var current: ThreadTeam? {
        pthread_getspecific(key).map { Unmanaged<ThreadTeam>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Makes `team` the calling thread's team (or clears it). The caller keeps the team alive.
    public static func setCurrent(_ team: ThreadTeam?) {
        pthread_setspecific(key, team.map { Unmanaged.passUnretained($0).toOpaque() })
    }
}

private final class HelperStart {
    let team: ThreadTeam
    let index: Int
    let onStart: @Sendable (Int) -> Void

    init(team: ThreadTeam, index: Int, onStart: @escaping @Sendable (Int) -> Void) {
        self.team = team
        self.index = index
        self.onStart = onStart
    }

    func run() {
        onStart(index)
        team.helperLoop()
    }
}

/// A mutex and condition variable for sleeping helpers.
private final class SleepCondition: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Sleeps until `ready` holds, re-checking at least every millisecond.
    func wait(until ready: () -> Bool) {
        pthread_mutex_lock(&mutex)
        while !ready() {
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_nsec += 1_000_000
            if deadline.tv_nsec >= 1_000_000_000 {
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1_000_000_000
            }
            pthread_cond_timedwait(&condition, &mutex, &deadline)
        }
        pthread_mutex_unlock(&mutex)
    }

    func broadcast() {
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }
}
