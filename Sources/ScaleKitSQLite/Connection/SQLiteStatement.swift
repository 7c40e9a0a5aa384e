import CSQLite
import ScaleKit

/// A value bound to a statement parameter or read from a column.
enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
}

/// One prepared statement; owns its `sqlite3_stmt` and finalizes it in `deinit`.
///
/// Not Sendable: it belongs to one ``SQLiteConnection`` and is only used on
/// that connection's executor.
final class SQLiteStatement {
    /// Names the statement in error messages (never its arguments).
    let name: String
    private let handle: OpaquePointer
    private let database: OpaquePointer

    init(database: OpaquePointer, sql: String, name: String) throws(ScaleKitError) {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(database, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw SQLiteErrors.error(code == SQLITE_OK ? SQLITE_MISUSE : code, database, "prepare '\(name)'")
        }
        self.handle = statement
        self.database = database
        self.name = name
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Runs the statement with `arguments` and returns every row.
    ///
    /// The statement is reset and its bindings cleared afterwards, also on
    /// error, so the next use starts clean.
    func rows(_ arguments: [SQLiteValue]) throws(ScaleKitError) -> [SQLiteRow] {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(arguments)
        var rows: [SQLiteRow] = []
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else { throw SQLiteErrors.error(code, database, "statement '\(name)'") }
            rows.append(currentRow())
        }
    }

    private func bind(_ arguments: [SQLiteValue]) throws(ScaleKitError) {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard expected == arguments.count else {
            throw ScaleKitError(
                .invalidArgument, "statement '\(name)' takes \(expected) arguments, got \(arguments.count)")
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch argument {
            case .null:
                code = sqlite3_bind_null(handle, index)
            case .integer(let value):
                code = sqlite3_bind_int64(handle, index, value)
            case .text(let value):
                // Explicit byte length: the text is copied (transient) and never relies on a NUL terminator.
                code = value.withCString { pointer in
                    sqlite3_bind_text(handle, index, pointer, Int32(value.utf8.count), scalekit_sqlite_transient())
                }
            }
            try SQLiteErrors.check(code, database, "bind argument \(index) of '\(name)'")
        }
    }

    private func currentRow() -> SQLiteRow {
        let count = sqlite3_column_count(handle)
        var values: [SQLiteValue] = []
        values.reserveCapacity(Int(count))
        for column in 0..<count {
            switch sqlite3_column_type(handle, column) {
            case SQLITE_NULL:
                values.append(.null)
            case SQLITE_INTEGER:
                values.append(.integer(sqlite3_column_int64(handle, column)))
            default:
                let length = Int(sqlite3_column_bytes(handle, column))
                if let bytes = sqlite3_column_text(handle, column) {
                    values.append(.text(String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)))
                } else {
                    values.append(.text(""))
                }
            }
        }
        return SQLiteRow(values: values)
    }
}

/// One result row, copied out of SQLite.
struct SQLiteRow: Sendable {
    var values: [SQLiteValue]

    func text(_ column: Int) -> String? {
        if case .text(let value) = values[column] { return value }
        return nil
    }

    func integer(_ column: Int) -> Int64? {
        if case .integer(let value) = values[column] { return value }
        return nil
    }
}
