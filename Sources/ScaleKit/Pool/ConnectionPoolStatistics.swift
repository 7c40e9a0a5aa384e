/// A consistent snapshot of a pool's counts, taken atomically.
///
/// The first four figures match SQLAlchemy's `pool.size()`, `checkedin()`,
/// `checkedout()` and `overflow()` from the seed's monitoring snippet, with
/// one difference: ``overflow`` never goes negative (SQLAlchemy reports
/// `open - size`, negative while the pool fills). Every figure is also
/// published as a swift-metrics gauge or counter (see Docs/Pool.md).
public struct ConnectionPoolStatistics: Sendable, Hashable, CustomStringConvertible {
    /// The configured `pool_size`.
    public var size: Int
    /// Idle connections waiting in the pool.
    public var checkedIn: Int
    /// Connections leased to callers.
    public var checkedOut: Int
    /// Connections being opened (a slot is reserved for each).
    public var opening: Int
    /// Connections being closed (their slot is freed once `close()` returns).
    public var closing: Int
    /// Callers waiting for a connection.
    public var waiters: Int
    /// Connections opened successfully since the pool started.
    public var created: Int
    /// Connections closed since the pool started.
    public var closed: Int
    /// Checkouts that gave up after `pool_timeout`.
    public var timeouts: Int

    /// Builds a snapshot; tests compare whole snapshots with it.
    public init(
        size: Int, checkedIn: Int = 0, checkedOut: Int = 0, opening: Int = 0, closing: Int = 0, waiters: Int = 0,
        created: Int = 0, closed: Int = 0, timeouts: Int = 0
    ) {
        self.size = size
        self.checkedIn = checkedIn
        self.checkedOut = checkedOut
        self.opening = opening
        self.closing = closing
        self.waiters = waiters
        self.created = created
        self.closed = closed
        self.timeouts = timeouts
    }

    /// Every slot in use: idle, leased, opening or closing. Never above `size + maxOverflow`.
    public var open: Int { checkedIn + checkedOut + opening + closing }
    /// Slots in use beyond `size` (0 while the pool is within its size).
    public var overflow: Int { max(0, open - size) }

    public var description: String {
        "size=\(size) checked_in=\(checkedIn) checked_out=\(checkedOut) overflow=\(overflow) opening=\(opening) "
            + "closing=\(closing) waiters=\(waiters) created=\(created) closed=\(closed) timeouts=\(timeouts)"
    }
}
