import Synchronization

/// Turns the cancellation of the task using a connection into that
/// connection's C-level interrupt, and makes sure the interrupt can only
/// ever reach the use it was meant for.
///
/// A connection owns one gate. Each use of the connection (one call of
/// ``withInterruptOnCancel(isolation:target:interrupt:_:)``) opens a new
/// generation; the task's cancellation handler runs `interrupt` on the
/// current *target* (a socket, a `sqlite3` handle, a wake-up pipe) only
/// while that same generation is open, under the gate's lock. The owner
/// changes or clears the target under the same lock (``retarget(_:)``)
/// before it closes or replaces what the target points to, so an interrupt
/// never reaches a handle that was closed, reopened, or handed to the next
/// user of the connection.
///
/// `interrupt` runs on whatever thread cancels the task, possibly one of
/// Swift's cooperative pool, with the lock held: it must not block (write a
/// byte, `shutdown(2)` a socket, `sqlite3_interrupt`), never a network call.
package final class InterruptGate<Target: Sendable>: Sendable {
    private struct State: Sendable {
        var generation: UInt64 = 0
        var open = false
        var target: Target?
        var requested = false
        /// Whether `interrupt` has run on the current generation's target.
        var delivered = false
    }

    private let state = SanitizerVisibleMutex(State())
    private let requestedFlag = Atomic<Bool>(false)

    package init() {}

    /// Whether the task of the open use asked to stop. Lock-free, for C
    /// callbacks that poll it (SQLite's busy handler); `false` outside a use.
    package var isRequested: Bool { requestedFlag.load(ordering: .acquiring) }

    /// Runs `body` synchronously in the caller's isolation. If the calling
    /// task is cancelled while `body` runs, `interrupt` is called (once, on
    /// another thread) with the target in force at that moment; when there
    /// is none yet, the request is remembered (``isRequested``) and
    /// ``retarget(_:)`` refuses later targets, so the owner can stop before
    /// starting more blocking work.
    ///
    /// When the task is already cancelled, `body` still runs and the
    /// interrupt fires at once; callers that want to refuse instead check
    /// `Task.isCancelled` first.
    package func withInterruptOnCancel<T, E: Error>(
        isolation: isolated (any Actor)? = #isolation,
        target: Target?,
        interrupt: @escaping @Sendable (Target) -> Void,
        _ body: () throws(E) -> T
    ) async throws(E) -> T {
        let generation = state.withLock { state -> UInt64 in
            state.generation &+= 1
            state.open = true
            state.target = target
            state.requested = false
            state.delivered = false
            return state.generation
        }
        requestedFlag.store(false, ordering: .releasing)
        let outcome: Result<T, E> = await withTaskCancellationHandler(
            operation: { () async -> Result<T, E> in
                // Capturing `isolation` is what makes this closure run on the
                // caller's executor (the connection's own queue): without it,
                // it would run, and block, on the cooperative pool.
                _ = isolation
                do throws(E) {
                    return .success(try body())
                } catch {
                    return .failure(error)
                }
            },
            onCancel: { [self] in request(generation: generation, interrupt) },
            isolation: isolation)
        state.withLock { state in
            state.open = false
            state.target = nil
            state.requested = false
            state.delivered = false
        }
        requestedFlag.store(false, ordering: .releasing)
        return try outcome.get()
    }

    /// Sets the target an interrupt reaches from now on (`nil`: none), for
    /// the owner. Returns `false`, and sets nothing, when an interrupt was
    /// already requested in the open use: the owner should stop instead of
    /// starting the blocking call the target was for. Outside a use it is
    /// harmless (nothing interrupts) and always succeeds.
    package func retarget(_ target: Target?) -> Bool {
        state.withLock { state in
            if state.open && state.requested && target != nil { return false }
            state.target = target
            return true
        }
    }

    /// Clears the target and reports whether an interrupt reached it: the
    /// owner then knows the handle behind it was disturbed (a socket shut
    /// down) even if the blocking call it was in happened to succeed.
    package func clearTarget() -> (requested: Bool, delivered: Bool) {
        state.withLock { state in
            state.target = nil
            return (state.requested, state.delivered)
        }
    }

    private func request(generation: UInt64, _ interrupt: (Target) -> Void) {
        state.withLock { state in
            guard state.open, state.generation == generation, !state.requested else { return }
            state.requested = true
            requestedFlag.store(true, ordering: .releasing)
            if let target = state.target {
                interrupt(target)
                state.delivered = true
            }
        }
    }
}
