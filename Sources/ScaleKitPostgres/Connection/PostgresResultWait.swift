import CLibPQ
import Glibc
import ScaleKit

/// Collects the result of a statement sent with libpq's asynchronous API
/// (`PQsend…`), waiting on the socket with `poll` for at most the command
/// timeout: libpq's own `PQexec` waits forever for a server that accepted
/// the statement and never answers (a frozen backend, a black-holed network).
enum PostgresResultWait {
    /// Why waiting stopped without a result.
    enum Failure: Error {
        /// The deadline passed; the statement may still be running on the server.
        case timedOut
        /// libpq failed to read (the connection broke).
        case readFailed
    }

    /// Waits for every result of the statement just sent and returns the one
    /// `PQexec` would: the first failed result, else the last one (`nil` when
    /// there was none). The caller owns the returned result.
    static func result(of connection: OpaquePointer, deadline: ContinuousClock.Instant?) throws(Failure) -> OpaquePointer? {
        var kept: OpaquePointer?
        do {
            while true {
                while PQisBusy(connection) == 1 {
                    try waitForInput(connection, deadline: deadline)
                }
                guard let next = PQgetResult(connection) else { break }
                if let previous = kept, isFailure(previous) {
                    PQclear(next)  // keep the first failure, read the rest to the end
                } else {
                    if let previous = kept { PQclear(previous) }
                    kept = next
                }
            }
            return kept
        } catch {
            if let kept { PQclear(kept) }
            throw error
        }
    }

    private static func isFailure(_ result: OpaquePointer) -> Bool {
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY: return false
        default: return true
        }
    }

    /// Blocks until the socket is readable (then lets libpq read) or the deadline passes.
    private static func waitForInput(_ connection: OpaquePointer, deadline: ContinuousClock.Instant?) throws(Failure) {
        let socket = PQsocket(connection)
        guard socket >= 0 else { throw .readFailed }
        while true {
            var milliseconds: Int32 = -1
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { throw .timedOut }
                let (seconds, attoseconds) = remaining.components
                milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .readFailed
            }
            if ready == 0 { continue }  // the deadline check above decides
            guard PQconsumeInput(connection) == 1 else { throw .readFailed }
            return
        }
    }
}
