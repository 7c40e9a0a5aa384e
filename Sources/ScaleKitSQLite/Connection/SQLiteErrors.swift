import CSQLite
import ScaleKit

/// The one place where an SQLite result code becomes a ``/ScaleKit/ScaleKitError``.
///
/// The message names the operation (a statement's name, never its SQL
/// arguments) and SQLite's own message, which never echoes bound values.
/// ``/ScaleKit/ScaleKitError/nativeCode`` holds the extended result code in decimal
/// (`"5"` is `SQLITE_BUSY`, `"2067"` is `SQLITE_CONSTRAINT_UNIQUE`).
enum SQLiteErrors {
    /// Throws unless `code` is `SQLITE_OK` (or one of `accepted`).
    static func check(
        _ code: Int32, _ handle: OpaquePointer?, _ operation: @autoclosure () -> String,
        accepting accepted: Set<Int32> = []
    ) throws(ScaleKitError) {
        if code == SQLITE_OK || accepted.contains(code) { return }
        throw error(code, handle, operation())
    }

    /// The error for a failed call; `handle` supplies SQLite's detailed message when it has one.
    static func error(_ code: Int32, _ handle: OpaquePointer?, _ operation: String) -> ScaleKitError {
        let detail: String
        if let handle, let message = sqlite3_errmsg(handle) {
            detail = String(cString: message)
        } else {
            detail = String(cString: sqlite3_errstr(code))
        }
        return ScaleKitError(
            scaleKitCode(for: code), "SQLite \(operation) failed: \(detail)", nativeCode: String(code))
    }

    /// Maps the primary result code (the low byte of an extended code).
    static func scaleKitCode(for code: Int32) -> ScaleKitError.Code {
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: return .timeout  // the busy timeout ran out
        case SQLITE_CONSTRAINT: return .constraintViolation
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corruptData
        case SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL, SQLITE_READONLY, SQLITE_PERM: return .ioError
        case SQLITE_INTERRUPT: return .cancelled
        case SQLITE_RANGE, SQLITE_TOOBIG, SQLITE_MISMATCH: return .invalidArgument
        default: return .databaseError
        }
    }
}
