import Foundation
@_spi(Benchmarks) import ScaleKit

/// Owns one ``SQLiteConnection`` and runs every use of it on a dedicated
/// serial dispatch queue, so SQLite's blocking calls never occupy a thread of
/// Swift's cooperative pool and the connection is never used by two callers
/// at once.
actor SQLiteDatabase {
    private let executor: DispatchQueueExecutor
    private let path: String
    private let busyTimeout: Duration
    private var connection: SQLiteConnection?
    /// Counts the connection's sleeps waiting for another connection's lock.
    nonisolated let lockWaits = SQLiteLockWaits()

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Does no I/O; ``open()`` opens the file on the database's own queue.
    init(path: String, busyTimeout: Duration) {
        self.path = path
        self.busyTimeout = busyTimeout
        self.executor = DispatchQueueExecutor(label: "scalekit.sqlite")
    }

    /// Opens the file (WAL mode, busy timeout) if it is not open yet.
    func open() throws(ScaleKitError) {
        if connection == nil {
            connection = try SQLiteConnection(path: path, busyTimeout: busyTimeout, lockWaits: lockWaits)
        }
    }

    /// Runs `body` with the connection, on the database's queue.
    ///
    /// Cancelling the calling task stops `body`: a running statement with
    /// `sqlite3_interrupt`, a wait for another connection's lock at the next
    /// busy-handler step (at most 100 ms), a statement not yet started at
    /// once. The call then throws ``/ScaleKit/ScaleKitError/Code/cancelled``, any
    /// transaction `body` opened is rolled back, and the connection serves
    /// the next caller as before. A `body` that finished before the
    /// cancellation took hold returns its result.
    func withConnection<T: Sendable>(
        _ body: @Sendable (SQLiteConnection) throws(ScaleKitError) -> T
    ) async throws(ScaleKitError) -> T {
        guard let connection else {
            throw ScaleKitError(.connectionClosed, "the SQLite database at \(path) is closed")
        }
        if Task.isCancelled { throw ScaleKitError(.cancelled, "the task was cancelled before the SQLite call began") }
        let gate = connection.interruptGate
        return try await gate.withInterruptOnCancel(target: connection.interruptTarget, interrupt: { $0.interrupt() }) {
            () throws(ScaleKitError) -> T in
            do throws(ScaleKitError) {
                let result = try body(connection)
                _ = gate.clearTarget()
                connection.rollBackIfInTransaction()
                return result
            } catch {
                // From here on no interrupt can reach the handle.
                let requested = gate.clearTarget().requested
                connection.rollBackIfInTransaction()
                // SQLITE_BUSY after a cancellation: the busy handler gave up because the task asked it to.
                if requested && (error.code == .timeout || error.code == .cancelled) {
                    throw ScaleKitError(
                        .cancelled, "the SQLite call was cancelled with its task (\(error.message))",
                        nativeCode: error.nativeCode)
                }
                throw error
            }
        }
    }

    /// Closes the connection; later calls throw ``/ScaleKit/ScaleKitError/Code/connectionClosed``.
    func close() {
        connection = nil
    }
}
