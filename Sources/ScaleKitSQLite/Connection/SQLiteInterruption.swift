import CSQLite
import ScaleKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many times a connection's busy handler has slept waiting for
/// another connection's lock; readable from any thread (tests use it to
/// know a claim is waiting for a lock, without guessing from time).
final class SQLiteLockWaits: Sendable {
    let count = Atomic<Int>(0)
}

/// What a cancelled task's handler interrupts: the connection's `sqlite3`
/// handle, for `sqlite3_interrupt`.
///
/// `@unchecked Sendable`: SQLite documents `sqlite3_interrupt` as safe to
/// call from any thread while the connection is open, and it is the only
/// call ever made through this value off the connection's own thread. The
/// ``InterruptGate`` that holds it calls it only inside a use of the
/// connection, which holds the ``SQLiteConnection`` (whose `deinit` closes
/// the handle) for as long as it lasts: the handle is never closed, or in
/// another caller's hands, when it is interrupted.
struct SQLiteInterruptTarget: @unchecked Sendable {
    let handle: OpaquePointer

    func interrupt() { sqlite3_interrupt(handle) }
}

/// The connection's busy handler: SQLite's own default handler
/// (`sqlite3_busy_timeout`), step for step, that also gives up as soon as
/// the task using the connection is cancelled.
///
/// SQLite's built-in handler sleeps through the whole busy timeout even
/// after `sqlite3_interrupt` (checked with SQLite 3.40), so a claim waiting
/// for another connection's write lock could not be cancelled. This handler
/// waits exactly as SQLite's does (the same sleeps, 1 ms growing to 100 ms,
/// and the same total), so contention behaves as before; it only adds a
/// look at the cancellation flag before each sleep, which never blocks.
/// When it gives up, SQLite returns `SQLITE_BUSY`, which the connection
/// reports as ``/ScaleKit/ScaleKitError/Code/cancelled`` because the task asked to stop.
final class SQLiteBusyWait {
    private static let delays: [Int32] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100]
    private static let totals: [Int32] = [0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228]

    let timeoutMilliseconds: Int32
    private let gate: InterruptGate<SQLiteInterruptTarget>
    private let waits: SQLiteLockWaits

    init(timeout: Duration, gate: InterruptGate<SQLiteInterruptTarget>, waits: SQLiteLockWaits) {
        timeoutMilliseconds = Int32(clamping: timeout.milliseconds)
        self.gate = gate
        self.waits = waits
    }

    /// Installs the handlers on `handle`; `self` must outlive the handle.
    ///
    /// Besides the busy handler, a progress handler looks at the same flag
    /// every thousand virtual-machine steps and stops the statement once the
    /// task is cancelled. `sqlite3_interrupt` alone can lose a cancellation:
    /// one that lands after the connection's use began but before its
    /// statement starts is cleared by SQLite itself, which resets the
    /// interrupt flag when a statement starts with none running, and an
    /// unbounded query then runs forever. The flag cannot be lost: it stays
    /// set until the use ends. The check is one atomic load.
    func install(on handle: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_busy_handler(handle, sqliteBusyHandler, context)
        sqlite3_progress_handler(handle, 1_000, sqliteProgressHandler, context)
    }

    /// Whether the task using the connection asked to stop.
    var isCancelled: Bool { gate.isRequested }

    /// `sqliteDefaultBusyCallback` from SQLite's main.c: whether to retry
    /// the lock after `count` earlier tries, sleeping first.
    func retry(afterTries count: Int32) -> Bool {
        if gate.isRequested { return false }
        let last = Self.delays.count - 1
        var delay: Int32
        let prior: Int32
        if count < Self.delays.count {
            delay = Self.delays[Int(count)]
            prior = Self.totals[Int(count)]
        } else {
            delay = Self.delays[last]
            prior = Self.totals[last] + delay * (count - Int32(last))
        }
        if prior + delay > timeoutMilliseconds {
            delay = timeoutMilliseconds - prior
            if delay <= 0 { return false }
        }
        waits.count.add(1, ordering: .relaxed)
        usleep(UInt32(delay) * 1000)
        return true
    }
}

private func sqliteBusyHandler(_ context: UnsafeMutableRawPointer?, _ count: Int32) -> Int32 {
    guard let context else { return 0 }
    return Unmanaged<SQLiteBusyWait>.fromOpaque(context).takeUnretainedValue().retry(afterTries: count) ? 1 : 0
}

private func sqliteProgressHandler(_ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let context else { return 0 }
    return Unmanaged<SQLiteBusyWait>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
}
