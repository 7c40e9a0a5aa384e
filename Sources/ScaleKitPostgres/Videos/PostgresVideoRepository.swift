import Foundation
public import Logging
public import Metrics
public import ScaleKit
public import ServiceLifecycle
import Synchronization

/// A ``/ScaleKit/VideoRepository`` on PostgreSQL, over a pool of libpq connections:
/// the distributed backend every worker of every machine can share.
///
/// Each claim is one round trip: a server-side function (created by the
/// repository's migrations) inserts the video or locks its row and decides
/// there, so exactly one caller wins a new video, the retry of a failed one,
/// or the takeover of an expired lease, across any number of processes.
/// Completing, failing and renewing are single guarded `UPDATE`s that only
/// the current claim token matches. ``claimNext(lease:)`` is one call of a
/// second function around `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`,
/// planned once per server connection (PgBouncer included). Every instant is the
/// server's clock: a worker's clock only says how long a lease it asks for.
///
/// Creating a repository does no I/O: the pool connects on first use, and
/// the first call on each repository also creates or upgrades the schema
/// (serialized across processes by an advisory lock). A server that is down
/// shows up as ``/ScaleKit/ScaleKitError/Code/connectionFailed`` on that call, fast;
/// a pool whose connections are all busy for `DB_POOL_TIMEOUT` throws
/// ``/ScaleKit/ScaleKitError/Code/poolExhausted``. Run the repository (a `Service`)
/// in your ServiceGroup, or call ``shutdown()``, to close its connections.
public final class PostgresVideoRepository: VideoRepository, Service {
    /// The connection pool. Package-internal: users read ``statistics()``.
    package let pool: ConnectionPool<PostgresConnection>
    /// The schema holding the tables.
    public let schema: String
    private let statements: PostgresVideoStatements
    private let time: LeaseTimeSource
    private let policy: ClaimPolicy
    private let logger: Logger
    private let metrics: ClaimMetrics
    private let schemaIsCurrent = Atomic(false)

    /// How long one statement waits for the server's answer when the
    /// initialisers' `commandTimeout` is not given: 30 s.
    public static let defaultCommandTimeout: Duration = .seconds(30)

    /// Creates a repository; connects lazily.
    ///
    /// - Parameters:
    ///   - url: a `postgresql://` or `postgres://` URL (or libpq `key=value`
    ///     string); `sslmode`, `options` and every other libpq parameter pass
    ///     through unchanged.
    ///   - configuration: (`pool:`) the pool's size, overflow, timeout and recycle age
    ///     (`ConnectionPoolConfiguration(settings)` from `DB_POOL_*`).
    ///   - schema: the PostgreSQL schema for ScaleKit's tables (created if
    ///     missing); `[A-Za-z_][A-Za-z0-9_]*`.
    ///   - time: whose clock decides leases, expiry, backoff and timestamps:
    ///     the server's (the default) or an injected one (tests only).
    ///   - policy: the attempt cap and the backoff between attempts.
    ///   - name: the pool's name: the prefix of its metrics (`<name>.pool.checked_out`)
    ///     and its name in errors and logs. Give each repository of a process its own.
    ///   - logger: receives migrations and the pool's connection events.
    ///   - metricsFactory: where the pool's gauges and the claim counter go (Docs/Operations.md).
    ///   - commandTimeout: how long one statement may wait for the server's
    ///     answer before the call throws ``/ScaleKit/ScaleKitError/Code/timeout`` (30 s;
    ///     `nil`: forever). Connecting is bounded by the URL's `connect_timeout`
    ///     (10 s unless the URL sets it).
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidArgument`` for an empty URL or a bad schema name.
    public init(
        url: String, pool configuration: ConnectionPoolConfiguration = ConnectionPoolConfiguration(),
        schema: String = "public", time: LeaseTimeSource = .database, policy: ClaimPolicy = ClaimPolicy(),
        name: String = "scalekit.postgres", logger: Logger = .current,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        commandTimeout: Duration? = PostgresVideoRepository.defaultCommandTimeout
    ) throws(ScaleKitError) {
        guard !url.isEmpty, !url.utf8.contains(0) else {
            throw ScaleKitError(.invalidArgument, "a PostgreSQL URL must be non-empty and free of NUL bytes")
        }
        self.statements = PostgresVideoStatements(schema: try PostgresSchema.quotedIdentifier(schema))
        self.schema = schema
        self.time = time
        self.policy = policy
        self.logger = logger
        self.metrics = ClaimMetrics(factory: metricsFactory)
        self.pool = ConnectionPool(configuration: configuration, name: name, logger: logger, metricsFactory: metricsFactory) {
            try await PostgresConnection.connect(url: url, logger: logger, commandTimeout: commandTimeout)
        }
    }

    /// Service: runs until graceful shutdown, then closes every connection.
    public func run() async throws {
        try await pool.run()
    }

    /// Closes idle connections now and busy ones when they come back; later
    /// calls throw ``/ScaleKit/ScaleKitError/Code/poolShutDown``.
    public func shutdown() async {
        await pool.shutdown()
    }

    /// Creates or upgrades the schema now instead of on first use (a good
    /// start-up check: it fails fast when the server is unreachable).
    public func migrate() async throws {
        try await withConnection { _ in }
    }

    /// The pool's counts (open, idle, checked out, waiting), for health
    /// endpoints and metrics.
    public func statistics() -> ConnectionPoolStatistics { pool.statistics() }

    /// One `SELECT 1` on a pooled connection, for health checks.
    public func ping() async throws {
        try await pool.withConnection { connection in try await connection.ping() }
    }

    /// Atomically creates or claims the video in one round trip.
    public func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try await metrics.claim(system: "postgresql") {
            try await claimUntraced(id: id, title: title, originalURL: originalURL, lease: lease)
        }
    }

    private func claimUntraced(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: lease)
        let (statements, time, maxAttempts) = (self.statements, self.time, String(policy.maxAttempts))
        let token = ClaimToken.random()
        let row = try await withConnection { connection in
            // An injected clock is read once a connection is in hand, not before a wait for one.
            try await connection.query(
                statements.claim, name: "claim video",
                [id, title, originalURL, token.rawValue, Self.now(time), Self.microseconds(lease), maxAttempts]
            ).first
        }
        guard let row, let outcome = row[0].flatMap(ClaimOutcome.init(rawValue:)) else {
            throw ScaleKitError(.protocolError, "the claim function returned no decision")
        }
        let video = try PostgresVideoStatements.video(from: row, offset: 1)
        return VideoClaim(video: video, outcome: outcome, token: outcome.shouldProcess ? token : nil)
    }

    /// Stores a pending video unless one with this id exists.
    @discardableResult
    public func enqueueVideo(id: String, title: String?, originalURL: String?) async throws -> Video {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: .seconds(1))
        let (statements, time) = (self.statements, self.time)
        let row = try await withConnection { connection -> PostgresRow? in
            if let inserted = try await connection.query(
                statements.enqueue, name: "enqueue video", [id, title, originalURL, Self.now(time)]
            ).first {
                return inserted
            }
            // It existed: ON CONFLICT waited for any concurrent inserter, so it is visible to the next statement.
            return try await connection.query(statements.selectVideo, name: "select video", [id]).first
        }
        guard let row else { throw ScaleKitError(.protocolError, "an enqueued video was neither inserted nor found") }
        return try PostgresVideoStatements.video(from: row)
    }

    /// Claims the earliest-due claimable video in one round trip (`scalekit_claim_next`, `FOR UPDATE SKIP LOCKED`).
    public func claimNext(lease: Duration) async throws -> VideoClaim? {
        try await metrics.claimNext(system: "postgresql") { try await claimNextUntraced(lease: lease) }
    }

    private func claimNextUntraced(lease: Duration) async throws -> VideoClaim? {
        try ClaimRules.validateLease(lease)
        let (statements, time, maxAttempts) = (self.statements, self.time, String(policy.maxAttempts))
        let token = ClaimToken.random()
        let row = try await withConnection { connection in
            try await connection.query(
                statements.claimNext, name: "claim next video",
                [token.rawValue, Self.microseconds(lease), maxAttempts, Self.now(time)]
            ).first
        }
        guard let row else { return nil }
        guard let outcome = row[0].flatMap(ClaimOutcome.init(rawValue:)) else {
            throw ScaleKitError(.protocolError, "claim-next returned no decision")
        }
        return VideoClaim(video: try PostgresVideoStatements.video(from: row, offset: 1), outcome: outcome, token: token)
    }

    /// Ends up to `limit` expired leases in one statement (`FOR UPDATE SKIP
    /// LOCKED`, so several rescuers never block each other).
    @discardableResult
    public func rescueExpiredLeases(limit: Int) async throws -> LeaseRescue {
        let (statements, time, policy) = (self.statements, self.time, self.policy)
        let rows = try await withConnection { connection in
            try await connection.query(
                statements.rescue, name: "rescue expired leases",
                [
                    String(policy.maxAttempts), String(policy.retryBackoffMicroseconds),
                    String(policy.maxRetryBackoffMicroseconds), String(max(0, limit)), Self.now(time),
                ])
        }
        let abandoned = rows.filter { $0[0] == VideoState.abandoned.rawValue }.count
        return LeaseRescue(requeued: rows.count - abandoned, abandoned: abandoned)
    }

    /// Extends the lease when `token` still holds the claim (one guarded UPDATE).
    @discardableResult
    public func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video {
        try ClaimRules.validateLease(lease)
        let time = self.time
        return try await updateHeldClaim(id: id, token: token, name: "renew lease", statements.renewLease) {
            [Self.microseconds(lease), Self.now(time)]
        }
    }

    /// Marks the video completed when `token` still holds the claim (one guarded UPDATE).
    @discardableResult
    public func completeVideo(id: String, token: ClaimToken) async throws -> Video {
        let time = self.time
        return try await updateHeldClaim(id: id, token: token, name: "complete video", statements.complete) {
            [Self.now(time)]
        }
    }

    /// Marks the video failed, or abandoned after its last attempt, when
    /// `token` still holds the claim, and records the error (one guarded UPDATE).
    @discardableResult
    public func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video {
        try ClaimRules.validateText(error, name: "error message")
        let (time, policy) = (self.time, self.policy)
        return try await updateHeldClaim(id: id, token: token, name: "fail video", statements.fail) {
            [
                error, Self.now(time), String(policy.maxAttempts), String(policy.retryBackoffMicroseconds),
                String(policy.maxRetryBackoffMicroseconds),
            ]
        }
    }

    /// The "now" argument: NULL (the statement reads the server's clock) or the injected clock's instant.
    private static func now(_ time: LeaseTimeSource) -> String? {
        guard case .clock(let clock) = time else { return nil }
        return String(UnixMicroseconds.from(clock.now()))
    }

    /// A duration in whole microseconds, as the statements bind it.
    private static func microseconds(_ duration: Duration) -> String {
        String(Int64((duration.timeInterval * 1e6).rounded()))
    }

    /// The stored video, or `nil`.
    public func video(id: String) async throws -> Video? {
        try Identifier.validate(id, kind: "video id")
        let sql = statements.selectVideo
        let row = try await withConnection { connection in
            try await connection.query(sql, name: "select video", [id]).first
        }
        return try row.map { row throws(ScaleKitError) in try PostgresVideoStatements.video(from: row) }
    }

    /// Up to `limit` videos, newest update first (ties: larger id, by code point, first).
    public func videos(state: VideoState?, limit: Int) async throws -> [Video] {
        let limit = String(max(0, limit))
        let statements = self.statements
        let rows = try await withConnection { connection in
            if let state {
                try await connection.query(statements.newestVideosInState, name: "list videos in state", [state.rawValue, limit])
            } else {
                try await connection.query(statements.newestVideos, name: "list videos", [limit])
            }
        }
        return try rows.map { row throws(ScaleKitError) in try PostgresVideoStatements.video(from: row) }
    }

    /// Runs a guarded UPDATE (`$1` id, `$2` token, then `arguments()`), and
    /// tells "no such video" from "not the holder" when it matches nothing.
    private func updateHeldClaim(
        id: String, token: ClaimToken, name: String, _ sql: String,
        arguments: @escaping @Sendable () -> [String?]
    ) async throws -> Video {
        try Identifier.validate(id, kind: "video id")
        let existsSQL = statements.exists
        let row = try await ScaleKitSpan.videos(ScaleKitSpan.videosSpanName(name), system: "postgresql") {
            try await withConnection { connection -> PostgresRow? in
                if let row = try await connection.query(sql, name: name, [id, token.rawValue] + arguments()).first {
                    return row
                }
                throw ClaimRules.notHeld(videoExists: try await !connection.query(existsSQL, name: "video exists", [id]).isEmpty)
            }
        }
        return try PostgresVideoStatements.video(from: row!)
    }

    /// Leases a connection, brings the schema up to date once per repository,
    /// and runs `body`. Retries (at most twice, on another connection) when
    /// the statement never reached the server — a connection the server had
    /// already closed, as after a restart — or hit a serialization failure
    /// or deadlock, which rolled it back whole.
    private func withConnection<T: Sendable>(
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await pool.withConnection { connection in
                    try await ensureSchema(on: connection)
                    return try await body(connection)
                }
            } catch let error as ScaleKitError
                where attempt < 3 && (error.underlying is PostgresStatementNotSent || PostgresErrors.isTransient(error))
            {
                logger.debug("retrying a PostgreSQL statement", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                attempt += 1
            }
        }
    }

    private func ensureSchema(on connection: PostgresConnection) async throws {
        if schemaIsCurrent.load(ordering: .acquiring) { return }
        let schema = self.schema
        let applied = try await connection.migrate(schema: schema)
        schemaIsCurrent.store(true, ordering: .releasing)
        if !applied.isEmpty {
            logger.info("applied PostgreSQL schema migrations", metadata: ["schema": "\(schema)", "versions": "\(applied)"])
        }
    }
}

extension PostgresConnection {
    /// Brings `schema` up to date, or up to version `last` (see ``PostgresSchema``); returns the versions applied.
    func migrate(schema: String, through last: Int = .max) throws(ScaleKitError) -> [Int] {
        try PostgresSchema.migrate(self, schema: schema, through: last)
    }
}

extension PostgresVideoRepository {
    /// Applies the schema's migrations up to `version` only, leaving the
    /// schema as a release of that version made it, for upgrade tests. The
    /// repository's first call afterwards still brings it fully up to date.
    @_spi(SchemaTesting)
    public func migrate(throughVersion version: Int) async throws -> [Int] {
        let schema = self.schema
        return try await pool.withConnection { connection in try await connection.migrate(schema: schema, through: version) }
    }
}

extension PostgresVideoRepository {
    /// Runs one unnamed statement with text parameters on a pooled
    /// connection, for benchmark set-up (filling a queue, `ANALYZE`). Not
    /// part of the repository's API: ScaleKit's SQL layer is package-internal.
    @_spi(Benchmarks)
    public func executeForMeasurement(_ sql: String, name: String, _ arguments: [String?] = []) async throws {
        try await pool.withConnection { connection in
            _ = try await connection.query(sql, name: name, arguments, prepared: false)
        }
    }

    /// Whether `url` turns named prepared statements off (`statement_cache=off`,
    /// as PgBouncer in transaction pooling needs).
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidConfiguration`` for a value other than `on`/`off`.
    @_spi(Benchmarks)
    public static func statementCacheIsOff(url: String) throws(ScaleKitError) -> Bool {
        try PostgresStatementCache.split(url).cache == .off
    }
}
