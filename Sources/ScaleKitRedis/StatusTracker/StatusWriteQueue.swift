import ScaleKit

/// The status writes of one key from this process, applied together.
///
/// Writes of one status from tasks of the same process never race each
/// other's `WATCH` (the optimistic transaction only has to settle races
/// between processes), and they do not wait in line for a round trip each:
/// the first writer of a key leads; writers that arrive while it is busy
/// queue, and the next leader takes every queued write at once and applies
/// them in one `WATCH`/`MULTI`/`EXEC` (group commit). The result is what
/// writing them one after another would give, in arrival order, with no
/// other writer between them: each caller gets the status as it stood right
/// after its own step, a step that refuses (a fence, a status over the size
/// limit) fails only its own caller and leaves the status to the next step,
/// and a failure of the transaction itself (Redis unreachable, a stored
/// value that is not a status, contention that outlasts the attempts)
/// reaches every caller of the batch. (Measured: 16 tasks merging into one
/// status, Docs/Benchmarks.md.)
final class StatusWriteQueue: Sendable {
    /// One caller's write: what to store, given what is stored (may throw to refuse), and its TTL.
    struct Write: Sendable {
        let step: @Sendable (JSONValue?) throws(ScaleKitError) -> JSONValue
        let ttl: Duration
    }

    private enum Turn: Sendable {
        case done(Result<JSONValue, any Error>)
        case lead
    }

    private struct Waiting: Sendable {
        let write: Write
        let continuation: CheckedContinuation<Turn, Never>
    }

    /// For each key being written: the writes waiting for the next batch, oldest first.
    /// Sanitizer-visible: tasks contend for it, and ThreadSanitizer cannot see a
    /// plain `Mutex` hand over on Linux.
    private let queues = SanitizerVisibleMutex<[String: [Waiting]]>([:])

    /// Applies `write` to `key`, in a batch that `commit` writes: `commit`
    /// gets the batch's writes in order and returns one result per write
    /// (or throws for all of them).
    func write(
        _ key: String, _ write: Write,
        commit: ([Write]) async throws -> [Result<JSONValue, ScaleKitError>]
    ) async throws -> JSONValue {
        // A key nobody writes is led at once, without suspending (a lone
        // writer's every call would otherwise be rescheduled once).
        let leadsAtOnce = queues.withLock { queues in
            guard queues[key] == nil else { return false }
            queues[key] = []
            return true
        }
        if !leadsAtOnce {
            let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                let leads = queues.withLock { queues in
                    guard queues[key] != nil else {
                        queues[key] = []
                        return true
                    }
                    queues[key]!.append(Waiting(write: write, continuation: continuation))
                    return false
                }
                if leads { continuation.resume(returning: .lead) }
            }
            if case .done(let result) = turn { return try result.get() }
        }

        // Leading: this write and every one queued so far, in one transaction.
        let followers = queues.withLock { queues in
            let waiting = queues[key] ?? []
            queues[key] = []
            return waiting
        }
        let outcome: Result<[Result<JSONValue, ScaleKitError>], any Error>
        do {
            let results = try await commit([write] + followers.map(\.write))
            precondition(results.count == followers.count + 1, "a batch commit returns one result per write")
            outcome = .success(results)
        } catch {
            outcome = .failure(error)
        }
        // The leader's own cancellation is not the followers' failure: when it
        // stopped the batch, their writes go back to the front of the line.
        var requeued: [Waiting] = []
        if case .failure = outcome, Task.isCancelled { requeued = followers }
        // Hand the lead to the oldest write that arrived meanwhile, or free the key.
        let next = queues.withLock { queues -> Waiting? in
            guard var waiting = queues[key].map({ requeued + $0 }), !waiting.isEmpty else {
                queues[key] = nil
                return nil
            }
            let first = waiting.removeFirst()
            queues[key] = waiting
            return first
        }
        switch outcome {
        case .success(let results):
            // A cancelled leader's batch still committed: every follower has its result.
            for (index, follower) in followers.enumerated() {
                follower.continuation.resume(returning: .done(results[index + 1].mapError { $0 as any Error }))
            }
            next?.continuation.resume(returning: .lead)
            return try results[0].get()
        case .failure(let error):
            for follower in followers where requeued.isEmpty { follower.continuation.resume(returning: .done(.failure(error))) }
            next?.continuation.resume(returning: .lead)
            throw error
        }
    }
}
