public import Dispatch

/// A serial executor backed by its own dispatch queue, for actors that own a
/// C handle whose calls block (a `redisContext`, a `PGconn`, an `sqlite3`).
///
/// An actor that returns this executor's ``asUnownedSerialExecutor()`` from
/// its `unownedExecutor` runs every method on the queue, so blocking C calls
/// never occupy a thread of Swift's cooperative pool. Each queue is serial and
/// not targeted at a global concurrent queue, so libdispatch gives it a thread
/// of its own while it blocks (the same pattern as GRDB's `DispatchQueueActor`).
///
/// ```swift
/// actor Connection {
///     private let executor = DispatchQueueExecutor(label: "redis")
///     nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
/// }
/// ```
@_spi(Benchmarks) public final class DispatchQueueExecutor: SerialExecutor {
    /// The queue every job runs on.
    public let queue: DispatchQueue

    /// An executor on a new serial queue named `label`.
    public init(label: String, qos: DispatchQoS = .default) {
        queue = DispatchQueue(label: label, qos: qos)
    }

    /// Runs `job` on the queue, after the jobs enqueued before it.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    /// This executor, for an actor's `unownedExecutor`.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Whether the current code runs on this executor's queue.
    public func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}

/// Runs `body` on `queue` and resumes the caller with its result, keeping a
/// blocking call off Swift's cooperative thread pool.
///
/// `queue` must be a serial queue of its own (`DispatchQueue(label:)`), never
/// `DispatchQueue.global()`: on Linux the global queues' threads are the
/// cooperative pool's, so blocking there stalls every task of the process.
///
/// For one-off blocking work (a file lock, a `stat`); an object that makes
/// many blocking calls is better an actor on a `DispatchQueueExecutor`.
package func runBlocking<T: Sendable, E: Error>(
    on queue: DispatchQueue, _ body: @escaping @Sendable () throws(E) -> T
) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        queue.async {
            do throws(E) {
                continuation.resume(returning: .success(try body()))
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
    }
    return try result.get()
}
