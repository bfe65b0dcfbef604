public import ConfideHost
public import ConfideSDK
import Foundation

/// A completion called once per request, on a worker thread, with the request's outputs or error.
public typealias InferenceCompletion = @Sendable (Result<[HostTensor], HandlerError>) -> Void

/// Runs one model version's requests on its worker threads, in batches.
///
/// Requests wait in a FIFO queue; an idle worker takes every waiting request up to `maxBatchSize` at
/// once, so a lone request runs at once and batches form under load.
public final class Scheduler: @unchecked Sendable {
    private struct Pending {
        let request: HostRequest
        let completion: InferenceCompletion
    }

    /// The number of worker threads.
    public let workerCount: Int
    /// The largest batch a worker executes.
    public let maxBatchSize: Int
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var queueHead = 0
    private var stopping = false
    private var runningWorkers = 0
    private let stopped = DispatchGroup()

    /// Starts `workers` threads, each creating its own instance of `model`; returns once all are ready.
    /// Throws the first instance-creation error (and stops the workers already started).
    public init(model: PluginModel, modelName: String, workers: Int, maxBatchSize: Int) throws(HandlerError) {
        self.workerCount = workers
        self.maxBatchSize = maxBatchSize
        let ready = DispatchGroup()
        let failures = Failures()
        for index in 0..<workers {
            ready.enter()
            stopped.enter()
            let thread = Thread { [self] in
                let instance: PluginInstance
                do throws(HandlerError) {
                    instance = try model.makeInstance(worker: WorkerInfo(index: index, numaNode: nil, coreCount: 1))
                } catch {
                    failures.record(error)
                    ready.leave()
                    stopped.leave()
                    return
                }
                ready.leave()
                run(instance)
                stopped.leave()
            }
            thread.name = "confide-\(modelName)-worker-\(index)"
            thread.start()
        }
        ready.wait()
        if let failure = failures.first {
            shutdown()
            throw failure
        }
    }

    /// Queues a request. The completion is called exactly once, on a worker thread (or at once with
    /// an `unavailable` error when the scheduler is shutting down).
    public func submit(_ request: HostRequest, completion: @escaping InferenceCompletion) {
        condition.lock()
        guard !stopping else {
            condition.unlock()
            completion(.failure(.unavailable("the model is shutting down")))
            return
        }
        queue.append(Pending(request: request, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// The number of requests waiting for a worker.
    public var queueDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - queueHead
    }

    /// Stops accepting requests, lets the workers finish every queued request, and waits for them.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        stopped.wait()
    }

    private func run(_ instance: PluginInstance) {
        while let batch = nextBatch() {
            let results = instance.execute(batch.map(\.request))
            for (pending, result) in zip(batch, results) { pending.completion(result) }
        }
    }

    /// Waits for requests; returns up to `maxBatchSize` of them, or `nil` once stopping and drained.
    private func nextBatch() -> [Pending]? {
        condition.lock()
        defer { condition.unlock() }
        while queueHead == queue.count {
            if stopping { return nil }
            condition.wait()
        }
        let end = min(queue.count, queueHead + maxBatchSize)
        let batch = Array(queue[queueHead..<end])
        queueHead = end
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        } else if queueHead > 1024 {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return batch
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
