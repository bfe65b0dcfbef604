#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A worker: one OS thread that owns an intra-op ``ThreadTeam`` and runs blocking jobs on it, one at a time,
/// in the order they were submitted.
///
/// Every thread of the worker (its own thread is team index 0, the team's helpers 1 ..< `threads`) first calls
/// the worker's `affinity` with its index, so whoever creates the worker decides where its threads run (the
/// runtime pins each to one core of a NUMA node) without this package depending on a NUMA library. While a job
/// runs, the team is the thread's ``ThreadTeam/current`` team, so a handler's `parallel_for` uses it.
///
/// ```swift
/// let worker = WorkerThread(name: "bench", threads: 4)
/// let instance = try worker.run { try model.makeInstance(worker: WorkerInfo(coreCount: 4)) }
/// let results = worker.run { instance.execute(requests) }
/// worker.stop()
/// ```
public final class WorkerThread: @unchecked Sendable {
    /// Places the calling thread, given its index in the worker's team (0 is the worker's own thread).
    public typealias Affinity = @Sendable (_ teamIndex: Int) -> Void

    /// The number of threads that run a job's parallel loops, the worker's own thread included.
    public let threads: Int

    private let jobs = JobQueue()
    private let thread: pthread_t

    /// Starts the thread, named `name` (the first 15 bytes, as the kernel shows it), with a team of `threads`
    /// threads, each of which calls `affinity` with its team index before it runs anything else. Throws when the
    /// system cannot create the thread.
    public init(name: String, threads: Int, affinity: @escaping Affinity = { _ in }) throws(WorkerThreadError) {
        self.threads = max(1, threads)
        let start = WorkerStart(name: name, threads: self.threads, affinity: affinity, jobs: jobs)
        let box = Unmanaged.passRetained(start).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                Unmanaged<WorkerStart>.fromOpaque(raw).takeRetainedValue().run()
                return nil
            }, box)
        guard created == 0 else {
            Unmanaged<WorkerStart>.fromOpaque(box).release()
            let reason = String(cString: strerror(created))
            throw WorkerThreadError(message: "cannot start worker thread '\(name)': \(reason)")
        }
        self.thread = thread
    }

    deinit { stop() }

    /// Queues `job` to run on the worker's thread after the jobs submitted before it, and returns at once. After
    /// ``stop()`` a job is dropped.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.append(job)
    }

    /// Runs `job` on the worker's thread after the jobs submitted before it, and returns its result once it has
    /// run. After ``stop()`` the job runs on the calling thread instead.
    public func run<Result, Failure: Error>(_ job: () throws(Failure) -> Result) throws(Failure) -> Result {
        try withoutActuallyEscaping(job) { job throws(Failure) -> Result in
            let call = BlockingCall(job)
            guard jobs.append({ call.run() }) else { return try job() }
            return try call.wait()
        }
    }

    /// Lets the jobs already submitted finish, then stops the team and the thread and waits for them. Called
    /// from one of its own jobs, it returns at once and the thread ends after that job.
    public func stop() {
        let first = jobs.close()
        if pthread_equal(pthread_self(), thread) != 0 {
            if first { pthread_detach(thread) }
            return
        }
        if first { pthread_join(thread, nil) } else { jobs.ended.wait() }
    }
}

/// Why a ``WorkerThread`` did not start.
public struct WorkerThreadError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for people.
    public let message: String

    /// A description for people: the message.
    public var description: String { message }
}

/// What a new worker thread needs to start.
private final class WorkerStart {
    let name: String
    let threads: Int
    let affinity: WorkerThread.Affinity
    let jobs: JobQueue

    init(name: String, threads: Int, affinity: @escaping WorkerThread.Affinity, jobs: JobQueue) {
        self.name = name
        self.threads = threads
        self.affinity = affinity
        self.jobs = jobs
    }

    func run() {
        nameCurrentThread()
        affinity(0)
        let affinity = affinity
        let team = ThreadTeam(size: threads) { index in affinity(index) }
        ThreadTeam.setCurrent(team)
        while let job = jobs.next() { job() }
        ThreadTeam.setCurrent(nil)
        team.stop()
        jobs.ended.fire()
    }

    /// Names the calling thread as the kernel shows it (`/proc/<pid>/task/<tid>/comm`), which keeps 15 bytes;
    /// a system without that file leaves the thread unnamed.
    private func nameCurrentThread() {
        let file = open("/proc/thread-self/comm", O_WRONLY)
        guard file >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        close(file)
    }
}

/// A job run while its submitter waits: it may capture what is not `Sendable`, because the submitter does not
/// touch it until the job has run.
private final class BlockingCall<Result, Failure: Error>: @unchecked Sendable {
    private var job: (() throws(Failure) -> Result)?
    private var outcome: Swift.Result<Result, Failure>?
    private let signal = Signal()

    init(_ job: @escaping () throws(Failure) -> Result) {
        self.job = job
    }

    /// Runs the job and lets go of it before it wakes the submitter, whose closure must not outlive its call.
    func run() {
        outcome = runOnce()
        signal.fire()
    }

    private func runOnce() -> Swift.Result<Result, Failure>? {
        guard let job else { return nil }
        self.job = nil
        do throws(Failure) {
            return .success(try job())
        } catch {
            return .failure(error)
        }
    }

    func wait() throws(Failure) -> Result {
        signal.wait()
        // `run` always sets the outcome before it fires the signal.
        guard let outcome else { preconditionFailure("a worker job signalled without a result") }
        return try outcome.get()
    }
}

/// The worker's queue of jobs, guarded by a mutex and condition variable.
private final class JobQueue: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var closed = false
    /// Fired when the thread has ended.
    let ended = Signal()

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Queues `job`; returns false (and drops it) once the queue is closed.
    @discardableResult
    func append(_ job: @escaping @Sendable () -> Void) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed else { return false }
        jobs.append(job)
        pthread_cond_signal(&condition)
        return true
    }

    /// The next job, waiting for one; nil once the queue is closed and empty.
    func next() -> (@Sendable () -> Void)? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while head == jobs.count {
            if closed { return nil }
            pthread_cond_wait(&condition, &mutex)
        }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }

    /// Closes the queue to new jobs; returns whether this call closed it.
    func close() -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed else { return false }
        closed = true
        pthread_cond_broadcast(&condition)
        return true
    }
}

/// A one-shot signal one thread waits for.
private final class Signal: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var fired = false

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func fire() {
        pthread_mutex_lock(&mutex)
        fired = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func wait() {
        pthread_mutex_lock(&mutex)
        while !fired { pthread_cond_wait(&condition, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}
