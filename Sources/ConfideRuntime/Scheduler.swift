import CConfideSystem
public import ConfideHost
public import ConfideSDK
import CoreMetrics
import DequeModule
import Foundation
import Synchronization

/// Why a request got no outputs.
public enum InferenceFailure: Error, Sendable, Equatable {
    /// The handler failed it.
    case handler(HandlerError)
    /// The model's queue was full; the client should retry later.
    case queueFull(limit: Int)
    /// Its deadline passed while it waited; it never reached the handler.
    case deadlineExceeded
    /// The model is shutting down and accepts no new requests.
    case shuttingDown
}

/// A completion called once per request with the handler's answer (outputs, or a body) or why it has none.
public typealias InferenceCompletion = @Sendable (Result<HostResponse, InferenceFailure>) -> Void

/// A completion called once per split request with every part's answer, in the parts' order, or why one part has
/// none.
public typealias SplitCompletion = @Sendable (Result<[HostResponse], InferenceFailure>) -> Void

/// How a model's scheduler forms batches.
public struct BatchingPolicy: Sendable, Equatable {
    /// The largest batch.
    public var maxBatchSize: Int
    /// How long a forming batch of two or more requests may wait for more; a lone request never waits.
    public var maxBatchDelay: Duration
    /// Batch sizes to prefer, ascending.
    public var preferredBatchSizes: [Int]
    /// The most requests that may wait.
    public var maxQueueSize: Int

    /// Creates a policy.
    public init(
        maxBatchSize: Int, maxBatchDelay: Duration = .zero, preferredBatchSizes: [Int] = [], maxQueueSize: Int = 1024
    ) {
        self.maxBatchSize = maxBatchSize
        self.maxBatchDelay = maxBatchDelay
        self.preferredBatchSizes = preferredBatchSizes.filter { $0 <= maxBatchSize }.sorted()
        self.maxQueueSize = maxQueueSize
    }

    /// The batch size to take when `count` requests wait.
    func take(from count: Int) -> Int {
        let limit = min(count, maxBatchSize)
        return preferredBatchSizes.last(where: { $0 <= limit }) ?? limit
    }

    /// Whether `count` waiting requests make a batch worth running without waiting for more.
    func isFull(_ count: Int) -> Bool {
        count >= maxBatchSize || (preferredBatchSizes.last.map { count >= $0 } ?? false)
    }
}

/// A worker as it runs: its placement and the threads of its team as the kernel sees them.
public struct WorkerState: Sendable {
    /// Where it was placed.
    public let placement: WorkerPlacement
    /// The kernel thread ids of the worker thread and its team's helpers, in team order.
    public let threadIDs: [Int32]
    /// The CPUs each of those threads may run on, read back after pinning.
    public let threadCPUs: [[Int]]
}

/// Runs one model version's requests on its worker threads, in batches.
///
/// Requests wait in a bounded FIFO queue. An idle worker takes the waiting requests at once, up to the
/// batch size (or the largest preferred size), so a lone request runs immediately and batches form
/// under load; with `maxBatchDelay`, a worker that finds two or more requests holds the batch open
/// until it is full or the oldest has waited that long. A request whose deadline passes while it waits
/// is answered `deadlineExceeded` and never reaches the handler. The parts of a split request (see
/// ``submit(parts:deadline:completion:)``) never share a batch, so idle workers run them side by side.
public final class Scheduler: @unchecked Sendable {
    private struct Pending {
        let request: HostRequest
        let enqueued: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        let completion: InferenceCompletion
        /// The split request it is a part of, if any.
        var split: Int? = nil
    }

    /// The batching policy.
    public let policy: BatchingPolicy
    private let model: PluginModel
    private let modelName: String
    private let pin: Bool
    /// The metrics it reports to.
    public let metrics: ModelMetrics
    private let condition = NSCondition()
    private var queue = Deque<Pending>()
    private var stopping = false
    private var busy = 0
    private var submitted = 0
    /// The split requests queued so far (their ids), and how many of their parts wait.
    private var splits = 0
    private var queuedParts = 0
    private var states: [WorkerState] = []
    private var retiring: Set<Int> = []
    /// The threads of the workers started and not yet removed, by worker index.
    private var workerThreads: [Int: WorkerThread] = [:]
    private let clock = ContinuousClock()

    /// Starts one worker thread per placement, each pinned to its cores with an intra-op team of the
    /// same size, each creating its own instance of `model`; returns once all are ready. Throws the
    /// first instance-creation error (after stopping the workers already started).
    public init(
        model: PluginModel, modelName: String, policy: BatchingPolicy, placements: [WorkerPlacement], pin: Bool = true,
        metrics: ModelMetrics
    ) throws(HandlerError) {
        self.model = model
        self.modelName = modelName
        self.pin = pin
        self.policy = policy
        self.metrics = metrics
        do {
            try addWorkers(placements)
        } catch {
            shutdown()
            throw error
        }
    }

    /// Starts more workers while the others keep serving; returns once they are ready. On an
    /// instance-creation error the workers started by this call are stopped again and the error thrown.
    public func addWorkers(_ placements: [WorkerPlacement]) throws(HandlerError) {
        let ready = DispatchGroup()
        let failures = Failures()
        for placement in placements {
            let cpus = placement.cpus
            let threads = ThreadRecords(count: cpus.count)
            let pin = pin
            let worker: WorkerThread
            do throws(WorkerThreadError) {
                // The kernel keeps 15 bytes of a thread's name: the worker's index first, then the model's name.
                worker = try WorkerThread(name: "\(placement.index)-\(modelName)", threads: cpus.count) { index in
                    if pin, index < cpus.count { Self.pinCurrentThread(to: cpus[index], node: placement.node) }
                    threads.recordCurrent(as: index)
                }
            } catch {
                failures.record(HandlerError(.unavailable, error.message))
                break
            }
            condition.lock()
            workerThreads[placement.index] = worker
            condition.unlock()
            ready.enter()
            worker.submit { [self] in
                let instance: PluginInstance
                do throws(HandlerError) {
                    instance = try model.makeInstance(
                        worker: WorkerInfo(index: placement.index, numaNode: placement.node, coreCount: cpus.count))
                } catch {
                    failures.record(error)
                    ready.leave()
                    return
                }
                threads.waitUntilComplete()
                record(WorkerState(placement: placement, threadIDs: threads.ids, threadCPUs: threads.cpus))
                ready.leave()
                run(instance, worker: placement.index)
                retired(placement.index)
            }
        }
        ready.wait()
        if let failure = failures.first {
            removeWorkers(placements.map(\.index))
            throw failure
        }
    }

    /// Stops the given workers after the batch each is running; queued requests stay for the others.
    /// Returns once they have stopped.
    public func removeWorkers(_ indices: [Int]) {
        condition.lock()
        retiring.formUnion(indices)
        condition.broadcast()
        while states.contains(where: { indices.contains($0.placement.index) }) { condition.wait() }
        retiring.subtract(indices)
        let leaving = indices.compactMap { workerThreads.removeValue(forKey: $0) }
        condition.unlock()
        for worker in leaving { worker.stop() }
    }

    /// The number of running workers.
    public var workerCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return states.count
    }

    /// The running workers, by index.
    public var workers: [WorkerState] {
        condition.lock()
        defer { condition.unlock() }
        return states.sorted { $0.placement.index < $1.placement.index }
    }

    /// Queues a request to be answered by `deadline`. The completion is called exactly once: on a
    /// worker thread, or at once when the queue is full or the model is shutting down.
    public func submit(
        _ request: HostRequest, deadline: ContinuousClock.Instant, completion: @escaping InferenceCompletion
    ) {
        enqueue([(request, completion)], deadline: deadline, split: false) { completion(.failure($0)) }
    }

    /// Queues the parts of one request, split by the caller along its rows, to be answered by `deadline`. No two
    /// parts share a batch, so idle workers run them at the same time; a busy model runs them one after another.
    /// Every part is queued, or none when the queue cannot take them all. `completion` is called exactly once, with
    /// the parts' answers in order, or with the first failure.
    public func submit(
        parts: [HostRequest], deadline: ContinuousClock.Instant, completion: @escaping SplitCompletion
    ) {
        guard !parts.isEmpty else { return completion(.success([])) }
        let answers = SplitAnswers(count: parts.count, completion: completion)
        let requests = parts.enumerated().map { index, part -> (HostRequest, InferenceCompletion) in
            (part, { answers.record($0, at: index) })
        }
        enqueue(requests, deadline: deadline, split: true) { completion(.failure($0)) }
    }

    /// Queues `requests` together, or none of them when the queue cannot take them all or the model is shutting
    /// down, and then calls `refuse` once, at once; with `split`, as the parts of one request.
    private func enqueue(
        _ requests: [(HostRequest, InferenceCompletion)], deadline: ContinuousClock.Instant, split: Bool,
        refuse: (InferenceFailure) -> Void
    ) {
        let now = clock.now
        condition.lock()
        if stopping {
            condition.unlock()
            metrics.shuttingDown.increment()
            return refuse(.shuttingDown)
        }
        let room = policy.maxQueueSize - requests.count
        let expired = queue.count > room ? expireLocked(now: now) : []
        let accepted = queue.count <= room
        submitted += requests.count
        if accepted {
            var id: Int?
            if split {
                splits &+= 1
                id = splits
                queuedParts += requests.count
            }
            for (request, completion) in requests {
                queue.append(
                    Pending(request: request, enqueued: now, deadline: deadline, completion: completion, split: id))
            }
            metrics.queueDepth.set(queue.count)
            if requests.count == 1 { condition.signal() } else { condition.broadcast() }
        }
        condition.unlock()
        answerExpired(expired)
        if !accepted {
            metrics.queueFull.increment()
            refuse(.queueFull(limit: policy.maxQueueSize))
        }
    }

    /// The number of requests submitted so far, accepted or not.
    public var submittedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return submitted
    }

    /// The number of workers executing a batch.
    public var busyWorkers: Int {
        condition.lock()
        defer { condition.unlock() }
        return busy
    }

    /// The number of requests waiting for a worker.
    public var queueDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Stops accepting requests, lets the workers finish every queued request, and waits for them.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        let workers = workerThreads.values
        workerThreads = [:]
        condition.unlock()
        for worker in workers { worker.stop() }
    }

    private func record(_ state: WorkerState) {
        condition.lock()
        states.append(state)
        condition.unlock()
    }

    private func retired(_ index: Int) {
        condition.lock()
        states.removeAll { $0.placement.index == index }
        condition.broadcast()
        condition.unlock()
    }

    private func run(_ instance: PluginInstance, worker: Int) {
        while true {
            let (next, expired) = nextBatch(worker: worker)
            answerExpired(expired)
            guard let batch = next else { return }
            if batch.isEmpty { continue }
            let start = clock.now
            for pending in batch { metrics.queueTime.recordNanoseconds((start - pending.enqueued).nanoseconds) }
            metrics.batchSize.record(batch.count)
            let results = instance.execute(batch.map(\.request))
            metrics.handlerTime.recordNanoseconds((clock.now - start).nanoseconds)
            condition.lock()
            busy -= 1
            metrics.busyWorkers.set(busy)
            condition.unlock()
            for (pending, result) in zip(batch, results) {
                switch result {
                case .success(let response):
                    metrics.succeeded.increment()
                    pending.completion(.success(response))
                case .failure(let error):
                    metrics.failed.increment()
                    pending.completion(.failure(.handler(error)))
                }
            }
        }
    }

    /// Waits for requests and returns the next batch (`nil` once stopping and drained; empty when only
    /// expired requests were found), and the requests whose deadline passed.
    private func nextBatch(worker: Int) -> (batch: [Pending]?, expired: [Pending]) {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if retiring.contains(worker) { return (nil, []) }
            let expired = expireLocked(now: clock.now)
            if !expired.isEmpty { return ([], expired) }
            if queue.isEmpty {
                if stopping { return (nil, []) }
                condition.wait()
                continue
            }
            let ready = readyLocked()
            if ready >= 2, !policy.isFull(ready), !stopping, policy.maxBatchDelay > .zero, let oldest = queue.first {
                let release = oldest.enqueued + policy.maxBatchDelay
                let remaining = release - clock.now
                if remaining > .zero {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.seconds))
                    continue
                }
            }
            let count = policy.take(from: ready)
            let batch = Array(queue.prefix(count))
            queue.removeFirst(count)
            queuedParts -= batch.count { $0.split != nil }
            busy += 1
            metrics.busyWorkers.set(busy)
            metrics.queueDepth.set(queue.count)
            return (batch, [])
        }
    }

    /// How many requests from the front of the queue may form one batch: all of them, up to the first that is a
    /// second part of a split request already among them. Call with the lock held.
    private func readyLocked() -> Int {
        guard queuedParts > 0 else { return queue.count }
        var seen: Set<Int> = []
        for (index, pending) in queue.prefix(policy.maxBatchSize).enumerated() {
            if let split = pending.split, !seen.insert(split).inserted { return index }
        }
        return queue.count
    }

    /// Removes every queued request whose deadline has passed. Call with the lock held.
    private func expireLocked(now: ContinuousClock.Instant) -> [Pending] {
        guard queue.contains(where: { $0.deadline <= now }) else { return [] }
        let expired = Array(queue.filter { $0.deadline <= now })
        queue.removeAll { $0.deadline <= now }
        queuedParts -= expired.count { $0.split != nil }
        metrics.queueDepth.set(queue.count)
        return expired
    }

    /// Answers expired requests. Call without the lock.
    private func answerExpired(_ expired: [Pending]) {
        for pending in expired {
            metrics.deadlineExceeded.increment()
            pending.completion(.failure(.deadlineExceeded))
        }
    }

    private static func pinCurrentThread(to cpu: Int, node: Int) {
        var cpus = [Int32(cpu)]
        _ = confide_pin_current_thread(&cpus, 1)
        confide_numa_prefer_node(Int32(node))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var seconds: Double { Double(nanoseconds) / 1e9 }
}

/// The kernel's view of a worker's team threads, recorded by each thread once it is pinned.
private final class ThreadRecords: @unchecked Sendable {
    private let condition = NSCondition()
    private(set) var ids: [Int32]
    private(set) var cpus: [[Int]]
    private var recorded = 0

    init(count: Int) {
        ids = Array(repeating: 0, count: count)
        cpus = Array(repeating: [], count: count)
    }

    func recordCurrent(as index: Int) {
        var buffer = [Int32](repeating: 0, count: 1024)
        let count = Int(confide_current_thread_cpus(&buffer, Int32(buffer.count)))
        condition.lock()
        ids[index] = confide_thread_id()
        cpus[index] = buffer.prefix(max(0, count)).map(Int.init)
        recorded += 1
        condition.broadcast()
        condition.unlock()
    }

    func waitUntilComplete() {
        condition.lock()
        while recorded < ids.count { condition.wait() }
        condition.unlock()
    }
}

/// The first error reported by any worker while starting.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [HandlerError] = []

    func record(_ error: HandlerError) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }

    var first: HandlerError? {
        lock.lock()
        defer { lock.unlock() }
        return errors.first
    }
}

/// The answers of a split request's parts, collected until the last one arrives or one fails.
private final class SplitAnswers: Sendable {
    private struct State {
        var responses: [HostResponse?]
        var remaining: Int
        var finished = false
    }

    private let state: Mutex<State>
    private let completion: SplitCompletion

    init(count: Int, completion: @escaping SplitCompletion) {
        state = Mutex(State(responses: Array(repeating: nil, count: count), remaining: count))
        self.completion = completion
    }

    /// Records part `index`'s answer; calls the completion on the first failure or once every part has answered.
    func record(_ result: Result<HostResponse, InferenceFailure>, at index: Int) {
        let outcome: Result<[HostResponse], InferenceFailure>? = state.withLock { state in
            guard !state.finished else { return nil }
            switch result {
            case .failure(let failure):
                state.finished = true
                state.responses = []
                return .failure(failure)
            case .success(let response):
                state.responses[index] = response
                state.remaining -= 1
                guard state.remaining == 0 else { return nil }
                state.finished = true
                return .success(state.responses.compactMap { $0 })
            }
        }
        if let outcome { completion(outcome) }
    }
}
