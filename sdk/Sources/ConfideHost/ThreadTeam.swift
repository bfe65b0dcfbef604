public import CConfide
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A worker's intra-op thread team: the worker's own thread plus `size - 1` helper threads, which
/// split a parallel-for among themselves. Helpers spin for a while for the next loop, then sleep.
///
/// Thread `i` of the team (the caller is 0) first runs the chunks of its own share of a loop, the `i`-th of
/// `size` equal contiguous parts of `[0, count)`, and then helps with the others' shares. So loops over
/// the same rows give each thread the same rows, as long as no thread falls behind: the rows one loop
/// writes are read by the next on the core that wrote them, not fetched from another core's cache.
///
/// The caller never waits for a helper to wake up: it takes chunks itself and returns as soon as every
/// chunk is done, whoever ran it. A helper that wakes late finds the loop finished and goes back to
/// waiting. Each share's chunks are claimed with one atomic double word holding the loop's generation, the
/// share's next index, its end and the chunk size, so a late helper can never claim a chunk of a later loop
/// with an earlier loop's body or bounds.
///
/// The team behind ``ConfideHostApi/parallel_for`` is the calling thread's ``current`` team; a thread
/// without one runs the loop alone.
public final class ThreadTeam: @unchecked Sendable {
    /// The number of threads that run a loop, the caller included.
    public let size: Int

    /// The current loop's generation: a new value starts a loop.
    private let generation = Atomic<UInt64>(0)
    /// Each thread's share of the current loop, by thread index.
    private let shares: [Share]
    /// Indices of the current loop that have finished.
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepLock = SleepCondition()
    private var helpers: [pthread_t] = []

    // The current loop; written by the caller before it publishes a new `generation`, read by
    // helpers only while they hold an unfinished chunk of that generation.
    private var body: ConfideParallelBody?
    private var context: UnsafeMutableRawPointer?

    /// Nanoseconds a helper keeps checking for the next loop (yielding to other threads) before it sleeps:
    /// longer than the gaps between the loops of one batch, so a batch never pays for a wake-up.
    static let spinNanoseconds: UInt64 = 2_000_000

    /// Starts `size - 1` helper threads; each runs `onStart(index)` first (index 1 ..< size), e.g. to pin
    /// itself to a core.
    public init(size: Int, onStart: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.size = max(1, size)
        shares = (0..<self.size).map { _ in Share() }
        for index in 1..<self.size {
            let start = HelperStart(team: self, index: index, onStart: onStart)
            var thread = pthread_t()
            let box = Unmanaged.passRetained(start).toOpaque()
            let created = pthread_create(
                &thread, nil,
                { raw in
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
    }

    deinit { stop() }

    /// Runs `body(context, begin, end)` over `[0, count)` in chunks of at least `grain`, on every
    /// thread of the team, and returns when all chunks are done. Call it from the team's own worker
    /// thread only, one loop at a time.
    public func parallelFor(count: Int, grain: Int, context: UnsafeMutableRawPointer?, body: ConfideParallelBody) {
        guard count > 0 else { return }
        // One share per thread of the team; a helper that failed to start leaves its share to the others.
        let threads = shares.count
        let grain = max(1, grain)
        guard !helpers.isEmpty, count > grain, count < Int(UInt32.max) else {
            body(context, 0, UInt64(count))
            return
        }
        // About sixteen chunks per thread: the last chunk is what a thread that finishes first waits for, and a
        // claim is one compare-and-swap.
        let chunk = max(grain, (count + threads * 16 - 1) / (threads * 16))
        self.body = body
        self.context = context
        finished.store(0, ordering: .relaxed)
        // Generations are 32 bits and wrap to 0 (after about 15 hours of a busy worker's loops).
        let generation = (self.generation.load(ordering: .relaxed) &+ 1) & 0xFFFF_FFFF
        for index in 0..<threads {
            let start = index * count / threads
            let end = (index + 1) * count / threads
            shares[index].claim.store(
                WordPair(first: UInt(generation << 32) | UInt(start), second: UInt(chunk) << 32 | UInt(end)),
                ordering: .relaxed)
        }
        self.generation.store(generation, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 { sleepLock.broadcast() }
        work(generation: generation, home: 0)
        var spins = 0
        while finished.load(ordering: .acquiring) < count {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
    }

    /// Runs chunks of loop `generation`, those of thread `home`'s share first, then the other shares' in turn,
    /// until none is left or a later loop has started. Everything a claim depends on is in the share's own
    /// words, so a thread late from an earlier loop can never claim with that loop's bounds.
    private func work(generation: UInt64, home: Int) {
        for offset in 0..<shares.count {
            let share = shares[(home + offset) % shares.count]
            var words = share.claim.load(ordering: .acquiring)
            while UInt64(words.first >> 32) == generation {
                let start = Int(words.first & 0xFFFF_FFFF)
                let end = min(Int(words.second & 0xFFFF_FFFF), start + Int(words.second >> 32))
                guard start < end else { break }
                let claimed = WordPair(first: UInt(generation << 32) | UInt(end), second: words.second)
                let (exchanged, current) = share.claim.compareExchange(
                    expected: words, desired: claimed, ordering: .acquiringAndReleasing)
                guard exchanged else {
                    words = current
                    continue
                }
                // Holding an unfinished chunk of this generation keeps the caller in this loop: body and
                // context are still this loop's.
                body?(context, UInt64(start), UInt64(end))
                finished.wrappingAdd(end - start, ordering: .releasing)
                words = share.claim.load(ordering: .acquiring)
            }
            guard UInt64(words.first >> 32) == generation else { return }
        }
    }

    fileprivate func helperLoop(index: Int) {
        var seen: UInt64 = 0
        while !stopping.load(ordering: .relaxed) {
            let generation = generation.load(ordering: .acquiring)
            if generation != seen {
                seen = generation
                work(generation: generation, home: index)
                continue
            }
            waitForLoop(after: seen)
        }
    }

    /// Returns once a loop later than `seen` has started or the team is stopping: spins for
    /// ``spinNanoseconds``, then sleeps.
    private func waitForLoop(after seen: UInt64) {
        let started = Self.now()
        var spins = 0
        while generation.load(ordering: .acquiring) == seen, !stopping.load(ordering: .relaxed) {
            spins += 1
            guard spins & 255 == 0 else { continue }
            // Past the first few microseconds, let whatever else wants this core (the event loops, a client)
            // run first; with nothing else runnable this returns at once.
            sched_yield()
            if Self.now() - started > Self.spinNanoseconds {
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                sleepLock.wait {
                    self.generation.load(ordering: .acquiring) != seen || self.stopping.load(ordering: .relaxed)
                }
                sleepers.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                return
            }
        }
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
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
        team.helperLoop(index: index)
    }
}

/// One thread's share of a loop, claimed with one double-word compare-and-swap: the loop's generation (high 32
/// bits) and the share's next unclaimed index (low 32 bits) in the first word; the chunk size (high 32 bits)
/// and the share's end (low 32 bits) in the second. Padded so that no two shares sit in one cache line.
private final class Share {
    let claim = Atomic<WordPair>(WordPair(first: 0, second: 0))
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
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
