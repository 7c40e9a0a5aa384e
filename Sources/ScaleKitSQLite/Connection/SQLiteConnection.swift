import CSQLite
import Foundation
import ScaleKit

/// One open `sqlite3` handle, its prepared-statement cache and its
/// transactions. Closes the handle in `deinit`.
///
/// Not Sendable and never shared: ``SQLiteDatabase`` owns it and uses it
/// only on its own serial executor, so its blocking calls (file I/O, the busy
/// handler's sleeps) never run on Swift's cooperative thread pool.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens (creating if needed) the database file at `path`.
    ///
    /// Sets the busy timeout (how long a write waits for another
    /// connection's lock before failing with ``/ScaleKit/ScaleKitError/Code/timeout``)
    /// and switches the file to WAL mode, so readers never block the writer.
    init(path: String, busyTimeout: Duration) throws(ScaleKitError) {
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
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(handle, Int32(clamping: milliseconds))
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

    /// Runs `sql` (cached as a prepared statement) with `arguments`, returning its rows.
    /// - Parameter name: names the statement in errors; arguments never appear in them.
    @discardableResult
    func rows(_ sql: String, name: String, _ arguments: [SQLiteValue] = []) throws(ScaleKitError) -> [SQLiteRow] {
        try statement(sql, name: name).rows(arguments)
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
            if sqlite3_get_autocommit(handle) == 0 {
                _ = try? rows("ROLLBACK", name: "rollback")
            }
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
