import CSQLite
import Foundation
import ScaleKit

/// One open `sqlite3` handle, its prepared-statement cache and its
/// transactions. Closes the handle in `deinit`.
///
/// Not Sendable and never shared: ``SQLiteDatabase`` owns it and uses it
/// only on its own serial executor, so its blocking calls (file I/O, the busy
/// handler's sleeps) never run on Swift's cooperative thread pool.
///
/// ``interruptGate`` is how a cancelled task stops it: `sqlite3_interrupt`
/// on a running statement, the busy handler (``SQLiteBusyWait``) giving up
/// on a lock wait, and ``rows(_:name:_:)`` refusing to start the next statement.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// Lets a task's cancellation reach this connection while, and only while, it uses it.
    let interruptGate: InterruptGate<SQLiteInterruptTarget>
    /// The busy handler's state; outlives `handle` (stored properties are released after `deinit`).
    private let busyWait: SQLiteBusyWait

    /// Opens (creating if needed) the database file at `path`.
    ///
    /// Sets the busy timeout (how long a write waits for another
    /// connection's lock before failing with ``/ScaleKit/ScaleKitError/Code/timeout``,
    /// waiting exactly as `sqlite3_busy_timeout` does, see ``SQLiteBusyWait``)
    /// and switches the file to WAL mode, so readers never block the writer.
    init(path: String, busyTimeout: Duration, lockWaits: SQLiteLockWaits = SQLiteLockWaits()) throws(ScaleKitError) {
        let gate = InterruptGate<SQLiteInterruptTarget>()
        interruptGate = gate
        busyWait = SQLiteBusyWait(timeout: busyTimeout, gate: gate, waits: lockWaits)
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard let opened else {
            throw ScaleKitError(.ioError, "SQLite could not allocate a connection for \(path)", nativeCode: String(code))
        }
        guard code == SQLITE_OK else {
            let error = SQLiteErrors.error(code, opened, "open \(path)")
            sqlite3_close_v2(opened)
            throw error
        }
        handle = opened
        sqlite3_extended_result_codes(handle, 1)
        busyWait.install(on: handle)
        try enableWriteAheadLog(path: path, busyTimeout: busyTimeout)
        // NORMAL is safe with WAL: a crash never corrupts the file; a power
        // loss may roll back the last transactions, never half of one.
        try execute("PRAGMA synchronous = NORMAL", name: "set synchronous")
        try execute("PRAGMA foreign_keys = ON", name: "enable foreign keys")
    }

    deinit {
        statements.removeAll()  // finalize every statement before the handle closes
        sqlite3_close_v2(handle)
    }

    /// What ``interruptGate`` interrupts.
    var interruptTarget: SQLiteInterruptTarget { SQLiteInterruptTarget(handle: handle) }

    /// Runs `sql` (cached as a prepared statement) with `arguments`, returning its rows.
    /// - Parameter name: names the statement in errors; arguments never appear in them.
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/cancelled`` without starting it when the
    ///   task using the connection was cancelled (an interrupt that arrives
    ///   between two statements would otherwise be lost: SQLite clears it
    ///   when the next statement starts).
    @discardableResult
    func rows(_ sql: String, name: String, _ arguments: [SQLiteValue] = []) throws(ScaleKitError) -> [SQLiteRow] {
        if interruptGate.isRequested {
            throw ScaleKitError(.cancelled, "the task was cancelled before SQLite statement '\(name)'")
        }
        return try statement(sql, name: name).rows(arguments)
    }

    /// Rolls back a transaction left open (after a failure or a cancellation),
    /// so the connection is never used again inside it. Never interrupted.
    func rollBackIfInTransaction() {
        guard sqlite3_get_autocommit(handle) == 0 else { return }
        _ = interruptGate.retarget(nil)
        _ = try? statement("ROLLBACK", name: "rollback").rows([])
    }

    /// Runs one statement without caching it (schema changes, pragmas).
    func execute(_ sql: String, name: String) throws(ScaleKitError) {
        try SQLiteErrors.check(sqlite3_exec(handle, sql, nil, nil, nil), handle, "'\(name)'")
    }

    /// Runs `body` in a transaction that takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two connections never both read a row and then
    /// both decide to write it. Commits when `body` returns, rolls back when it throws.
    func immediateTransaction<T>(_ body: () throws(ScaleKitError) -> T) throws(ScaleKitError) -> T {
        try rows("BEGIN IMMEDIATE", name: "begin immediate")
        let result: T
        do {
            result = try body()
            try rows("COMMIT", name: "commit")
        } catch {
            rollBackIfInTransaction()
            throw error
        }
        return result
    }

    private func statement(_ sql: String, name: String) throws(ScaleKitError) -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let prepared = try SQLiteStatement(database: handle, sql: sql, name: name)
        statements[sql] = prepared
        return prepared
    }

    /// Switching to WAL needs a moment of exclusive access; when several
    /// processes open a new file at once, SQLite may answer BUSY without
    /// calling the busy handler, so retry until the busy timeout is spent.
    private func enableWriteAheadLog(path: String, busyTimeout: Duration) throws(ScaleKitError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: busyTimeout)
        while true {
            do throws(ScaleKitError) {
                let mode = try rows("PRAGMA journal_mode = WAL", name: "enable WAL").first?.text(0)
                guard mode?.lowercased() == "wal" else {
                    throw ScaleKitError(
                        .unsupported, "SQLite refused WAL mode for \(path) (journal mode stays \(mode ?? "unknown"))")
                }
                return
            } catch where error.code == .timeout && clock.now < deadline {
                usleep(10_000)
            }
        }
    }
}
