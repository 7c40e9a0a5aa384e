/// A connection that a ``ConnectionPool`` can hold: a Redis or PostgreSQL
/// connection, usually an actor that owns one C handle.
///
/// The pool never uses a connection from two tasks at once: it calls these
/// methods only while it holds the connection (at checkout, on return, when
/// closing), never while a caller's `withConnection` body is running.
public protocol PooledConnection: Sendable {
    /// A cheap round trip (Redis `PING`, `SELECT 1`); throws when the connection is dead.
    ///
    /// The pool calls it at checkout when the connection has been idle longer
    /// than ``ConnectionPoolConfiguration/prePingIdleThreshold``; a throw makes
    /// the pool close the connection and open a new one for the caller.
    func ping() async throws
    /// Called whenever a connection comes back to the pool, whatever its
    /// borrower threw: reset any dirty state (ROLLBACK an open transaction,
    /// DISCARD a MULTI) and return true, or return false when it cannot be
    /// reused.
    ///
    /// This is the pool's only source of truth about a connection's health:
    /// a connection that timed out mid-read, lost its socket or was
    /// interrupted must remember it and answer `false`; one that got a clean
    /// error reply (a server-side `statement_timeout`, a constraint
    /// violation) answers `true` and is kept. A connection that returns
    /// `false` is closed and its slot freed.
    func prepareForReuse() async -> Bool
    /// Closes the connection. Never throws; called at most once by the pool.
    func close() async
}
