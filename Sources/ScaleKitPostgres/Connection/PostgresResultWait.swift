import CLibPQ
import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Collects the result of a statement sent with libpq's asynchronous API
/// (`PQsend…`), waiting on the socket with `poll` for at most the command
/// timeout: libpq's own `PQexec` waits forever for a server that accepted
/// the statement and never answers (a frozen backend, a black-holed network).
///
/// The wait also watches the connection's wake-up pipe: when the calling
/// task is cancelled, its cancellation handler writes a byte there, and the
/// wait (on the connection's own thread) sends the server a cancel request
/// (`PQcancel`) and keeps reading: the statement then ends with SQLSTATE
/// 57014, or with its own result if it finished first. Sending the request
/// from this thread, while the statement is still being waited for, is what
/// keeps a late cancel from ever reaching the connection's next statement.
enum PostgresResultWait {
    /// Why waiting stopped without a result.
    enum Failure: Error {
        /// The deadline passed; the statement may still be running on the server.
        case timedOut
        /// libpq failed to read (the connection broke).
        case readFailed
        /// The cancel request could not be sent (`PQcancel` failed).
        case cancelNotSent
        /// A cancel request was sent, but no answer came within the grace period.
        case cancelUnanswered
    }

    /// How the wait learns of a cancellation and what it does about it.
    struct Cancellation {
        /// The read end of the connection's wake-up pipe.
        var wakeUp: Int32
        /// Sends the server a cancel request; `false` when that failed.
        var sendCancel: () -> Bool
        /// How long to wait for the server's answer once the request is sent.
        var grace: Duration
        /// Set once a cancel request has been sent for this statement.
        var sent = false
    }

    /// Waits for every result of the statement just sent and returns the one
    /// `PQexec` would: the first failed result, else the last one (`nil` when
    /// there was none). The caller owns the returned result.
    static func result(
        of connection: OpaquePointer, deadline: ContinuousClock.Instant?, cancellation: inout Cancellation
    ) throws(Failure) -> OpaquePointer? {
        var kept: OpaquePointer?
        var deadline = deadline
        do {
            while true {
                while PQisBusy(connection) == 1 {
                    try waitForInput(connection, deadline: &deadline, cancellation: &cancellation)
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

    /// Blocks until the socket is readable (then lets libpq read) or the
    /// deadline passes; sends the cancel request when the wake-up pipe says
    /// so, and from then on waits no longer than the grace period.
    private static func waitForInput(
        _ connection: OpaquePointer, deadline: inout ContinuousClock.Instant?, cancellation: inout Cancellation
    ) throws(Failure) {
        let socket = PQsocket(connection)
        guard socket >= 0 else { throw .readFailed }
        while true {
            var milliseconds: Int32 = -1
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { throw cancellation.sent ? .cancelUnanswered : .timedOut }
                milliseconds = Int32(clamping: remaining.milliseconds &+ 1)
            }
            var descriptors = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                // Once the request is sent the pipe is not watched again (-1 is ignored by poll).
                pollfd(fd: cancellation.sent ? -1 : cancellation.wakeUp, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .readFailed
            }
            if ready == 0 { continue }  // the deadline check above decides
            if descriptors[1].revents != 0 {
                cancellation.sent = true
                guard cancellation.sendCancel() else { throw .cancelNotSent }
                let graceDeadline = ContinuousClock.now + cancellation.grace
                deadline = deadline.map { min($0, graceDeadline) } ?? graceDeadline
            }
            if descriptors[0].revents != 0 {
                guard PQconsumeInput(connection) == 1 else { throw .readFailed }
                return
            }
        }
    }
}
