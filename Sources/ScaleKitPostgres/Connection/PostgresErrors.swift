import CLibPQ
import Foundation
import ScaleKit

/// Marks a ``/ScaleKit/ScaleKitError`` thrown before a statement reached the server
/// (the connection was already closed), so the caller may safely retry it
/// on another connection.
struct PostgresStatementNotSent: Error, Sendable, CustomStringConvertible {
    var description: String { "the statement was not sent" }
}

/// The one place where libpq failures become ``/ScaleKit/ScaleKitError``s.
///
/// ``/ScaleKit/ScaleKitError/nativeCode`` holds the SQLSTATE (`"23505"`, `"08006"`).
/// Messages name the statement, never its arguments: the server's primary
/// message is kept except for data exceptions (class 22), whose messages
/// quote the offending value, and the DETAIL field (which quotes row values)
/// is never used. Connection messages go through `redactingCredentials(in:)`.
enum PostgresErrors {
    /// The error for a connection attempt that failed.
    static func connectFailed(_ connection: OpaquePointer?, target: String) -> ScaleKitError {
        let detail = connection.map(errorMessage) ?? "libpq could not allocate a connection"
        // libpq reports an expired connect_timeout only in its message.
        let timedOut = detail.contains("timeout expired")
        // libpq reports TLS verification failures ("certificate verify failed",
        // "server certificate for … does not match host name", a missing root
        // certificate) only in its message; say so plainly, because retrying
        // cannot help: the CA, the certificate or the host name must change.
        let certificate = detail.localizedCaseInsensitiveContains("certificate")
        return ScaleKitError(
            timedOut ? .timeout : .connectionFailed,
            "cannot connect to PostgreSQL at \(target): "
                + (certificate ? "TLS certificate problem (check sslrootcert and the server's certificate and host name): " : "")
                + redactingCredentials(in: detail))
    }

    /// The error for a statement whose result is missing or not successful.
    static func statementFailed(_ result: OpaquePointer?, _ connection: OpaquePointer, statement: String) -> ScaleKitError {
        let sqlState = result.flatMap { field($0, scalekit_pg_diag_sqlstate) }
        guard let sqlState else {
            // No SQLSTATE: libpq itself failed, almost always because the connection broke.
            let lost = PQstatus(connection) != CONNECTION_OK
            return ScaleKitError(
                lost ? .connectionFailed : .protocolError,
                "PostgreSQL statement '\(statement)' failed: \(redactingCredentials(in: errorMessage(connection)))")
        }
        let primary = result.flatMap { field($0, scalekit_pg_diag_message_primary) } ?? "no message"
        let shown = sqlState.hasPrefix("22") ? "invalid data (data exception)" : primary
        return ScaleKitError(
            code(forSQLState: sqlState, connectionLost: PQstatus(connection) != CONNECTION_OK),
            "PostgreSQL statement '\(statement)' failed: \(redactingCredentials(in: shown))", nativeCode: sqlState)
    }

    /// The error for a connection found closed before a statement was sent.
    static func notSent(_ connection: OpaquePointer, statement: String) -> ScaleKitError {
        ScaleKitError(
            .connectionFailed,
            "PostgreSQL connection was closed before '\(statement)': \(redactingCredentials(in: errorMessage(connection)))",
            underlying: PostgresStatementNotSent())
    }

    /// Maps a SQLSTATE to a ScaleKit code.
    static func code(forSQLState sqlState: String, connectionLost: Bool = false) -> ScaleKitError.Code {
        if connectionLost { return .connectionFailed }
        switch sqlState {
        case _ where sqlState.hasPrefix("08"): return .connectionFailed  // connection exception
        case "57P01", "57P02", "57P03", "53300": return .connectionFailed  // server shutting down, too many connections
        // statement_timeout (or someone else's cancel request); the connection's own
        // cancel, sent when the caller's task is cancelled, becomes .cancelled instead.
        case "57014": return .timeout
        case _ where sqlState.hasPrefix("23"): return .constraintViolation
        default: return .databaseError
        }
    }

    /// Whether a statement that failed with this error may simply be run again.
    static func isTransient(_ error: ScaleKitError) -> Bool {
        error.nativeCode == "40001" || error.nativeCode == "40P01"  // serialization failure, deadlock
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    private static func errorMessage(_ connection: OpaquePointer) -> String {
        guard let message = PQerrorMessage(connection) else { return "unknown error" }
        let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown error" : text.replacingOccurrences(of: "\n", with: " ")
    }
}
