/// How a ``ConnectionPool`` sizes itself, named after SQLAlchemy's QueuePool
/// settings (`pool_size`, `max_overflow`, `pool_timeout`, `pool_recycle`).
///
/// Negative sizes count as zero, and a pool always allows at least one
/// connection, so no configuration makes every checkout wait forever.
/// Docs/Pool.md explains how to size these for a given server.
public struct ConnectionPoolConfiguration: Sendable, Hashable {
    /// Connections kept open when idle (`pool_size`, `DB_POOL_SIZE`, default 10).
    public var size: Int
    /// Extra connections opened under load (`max_overflow`, `DB_MAX_OVERFLOW`,
    /// default 20), closed once more than `size` connections have been idle
    /// for ``overflowIdleTimeout``.
    public var maxOverflow: Int
    /// How long a checkout waits for a free connection before it throws
    /// ``ScaleKitError/Code/poolExhausted`` (`pool_timeout`, `DB_POOL_TIMEOUT`, default 30 s).
    /// Zero or less: fail at once when every connection is busy.
    public var timeout: Duration
    /// Age after which a connection is replaced at its next checkout (`pool_recycle`,
    /// `DB_POOL_RECYCLE`, default 3600 s), shortened by up to ``recycleJitter``
    /// so connections opened together are not all replaced together. Zero or less: never.
    public var recycle: Duration
    /// A connection idle longer than this is pinged at checkout; one used more
    /// recently is handed out without a round trip (default 1 s). Zero pings
    /// every idle connection; a very large value turns pre-ping off.
    public var prePingIdleThreshold: Duration
    /// The largest fraction (0...1) by which ``recycle`` is shortened at random
    /// for each connection (default 0.05: up to 3 minutes of a 1-hour recycle).
    public var recycleJitter: Double
    /// How long connections beyond `size` may stay idle before they are
    /// closed, oldest first (default 5 s). Zero closes one as soon as it comes
    /// back to `size` idle ones, as SQLAlchemy's QueuePool does; the grace
    /// spares a worker whose load comes in bursts (a batch of tasks that all
    /// finish, then start again) from reopening its overflow connections,
    /// each a TCP and TLS handshake and a server process, at every burst.
    public var overflowIdleTimeout: Duration

    /// A configuration with SQLAlchemy's defaults as the seed used them (and a
    /// 5 s grace for idle overflow connections, which QueuePool closes at once).
    public init(
        size: Int = 10, maxOverflow: Int = 20, timeout: Duration = .seconds(30), recycle: Duration = .seconds(3600),
        prePingIdleThreshold: Duration = .seconds(1), recycleJitter: Double = 0.05, overflowIdleTimeout: Duration = .seconds(5)
    ) {
        self.overflowIdleTimeout = overflowIdleTimeout
        self.size = size
        self.maxOverflow = maxOverflow
        self.timeout = timeout
        self.recycle = recycle
        self.prePingIdleThreshold = prePingIdleThreshold
        self.recycleJitter = recycleJitter
    }

    /// The largest `DB_POOL_SIZE` and `DB_MAX_OVERFLOW` the environment may
    /// set (PostgreSQL's own `max_connections` tops out at 262 143; more is
    /// certainly a typo).
    public static let maximumConnections = 100_000

    /// Connections kept when idle, never negative.
    var keptSize: Int { max(0, size) }
    /// The most connections open at once: `size + maxOverflow`, at least 1
    /// (saturating: `Int.max` overflow means "no limit", not a crash).
    var capacity: Int {
        let (sum, overflowed) = keptSize.addingReportingOverflow(max(0, maxOverflow))
        return max(1, overflowed ? Int.max : sum)
    }
}
