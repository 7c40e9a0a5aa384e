import Foundation
public import Logging
public import Metrics
public import ScaleKit

/// A ``/ScaleKit/VideoRepository`` in an SQLite file: the embedded default, used when
/// no `DATABASE_URL` names a PostgreSQL server.
///
/// Claims are atomic across every connection to the file, in this process
/// or in others: each claim reads and writes inside `BEGIN IMMEDIATE`, which
/// takes the file's write lock before reading, so two claimers never both
/// see a video unclaimed. The file runs in WAL mode (readers never block the
/// writer) with a busy timeout: a claim waits up to that long for another
/// connection's write, then throws ``/ScaleKit/ScaleKitError/Code/timeout``.
///
/// One repository owns one connection and runs its blocking SQLite calls on
/// a dedicated dispatch queue, never on Swift's cooperative thread pool.
/// Leases, expiry and backoff follow SQLite's own clock (`julianday('now')`:
/// the one machine's clock, the same for every process sharing the file),
/// unless a test injects one (``/ScaleKit/LeaseTimeSource/clock(_:)``).
public final class SQLiteVideoRepository: VideoRepository {
    /// The database file's path.
    public let path: String
    /// The connection's actor (internal: tests read its lock-wait count).
    let database: SQLiteDatabase
    private let time: LeaseTimeSource
    private let policy: ClaimPolicy
    private let logger: Logger
    private let metrics: ClaimMetrics

    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    ///
    /// - Parameters:
    ///   - path: the file; relative paths are relative to the working directory.
    ///   - time: whose clock decides leases and backoff: SQLite's (the default) or an injected one (tests).
    ///   - policy: the attempt cap and the backoff between attempts.
    ///   - busyTimeout: how long a write waits for another connection's lock (5 s).
    ///   - logger: receives schema migrations (info) and nothing per call.
    ///   - metricsFactory: where the claim counter goes (Docs/Operations.md).
    /// - Throws: ``/ScaleKit/ScaleKitError`` with ``/ScaleKit/ScaleKitError/Code/ioError`` when the file cannot be
    ///   opened or created, ``/ScaleKit/ScaleKitError/Code/corruptData`` when it is not a database.
    public init(
        path: String, time: LeaseTimeSource = .database, policy: ClaimPolicy = ClaimPolicy(),
        busyTimeout: Duration = .seconds(5), logger: Logger = .current,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) async throws {
        guard !path.isEmpty, !path.utf8.contains(0) else {
            throw ScaleKitError(.invalidArgument, "an SQLite path must be non-empty and free of NUL bytes")
        }
        self.path = path
        self.time = time
        self.policy = policy
        self.logger = logger
        self.metrics = ClaimMetrics(factory: metricsFactory)
        self.database = SQLiteDatabase(path: path, busyTimeout: busyTimeout)
        try await database.open()
        let time = self.time
        let applied = try await database.withConnection { connection throws(ScaleKitError) in
            try SQLiteSchema.migrate(connection, nowMicroseconds: try Self.now(time, connection))
        }
        if !applied.isEmpty {
            logger.info("applied SQLite schema migrations", metadata: ["path": "\(path)", "versions": "\(applied)"])
        }
    }

    /// Opens the database a `DATABASE_URL` of the form `sqlite:///path` names
    /// (`sqlite:///relative.db`, `sqlite:////absolute/path.db`).
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidConfiguration`` for any other URL.
    public convenience init(
        url: String, time: LeaseTimeSource = .database, policy: ClaimPolicy = ClaimPolicy(),
        busyTimeout: Duration = .seconds(5), logger: Logger = .current,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) async throws {
        guard case .sqlite(let path) = try DatabaseLocation(parsing: url) else {
            throw ScaleKitError(
                .invalidConfiguration, "\(redactingCredentials(in: url)) is not an sqlite:/// URL")
        }
        try await self.init(
            path: path, time: time, policy: policy, busyTimeout: busyTimeout, logger: logger, metricsFactory: metricsFactory)
    }

    /// Creates (or upgrades) the file at `path` with the migrations up to
    /// `version` only, as a release of that version left it, for upgrade
    /// tests; opening a repository on it afterwards brings it up to date.
    @_spi(SchemaTesting)
    @discardableResult
    public static func createDatabase(path: String, throughVersion version: Int) async throws -> [Int] {
        let database = SQLiteDatabase(path: path, busyTimeout: .seconds(5))
        try await database.open()
        let applied = try await database.withConnection { connection throws(ScaleKitError) in
            try SQLiteSchema.migrate(connection, nowMicroseconds: try Self.now(.database, connection), through: version)
        }
        await database.close()
        return applied
    }

    /// Closes the connection; later calls throw ``/ScaleKit/ScaleKitError/Code/connectionClosed``.
    public func close() async {
        await database.close()
    }

    /// Atomically creates or claims the video (one `BEGIN IMMEDIATE`
    /// transaction). Blocks, off the cooperative pool, for up to the busy
    /// timeout while another connection writes.
    public func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try await metrics.claim(system: "sqlite") {
            try await claimUntraced(id: id, title: title, originalURL: originalURL, lease: lease)
        }
    }

    private func claimUntraced(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: lease)
        let (time, policy) = (self.time, self.policy)
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.immediateTransaction { () throws(ScaleKitError) -> VideoClaim in
                // The time is read under the write lock, so a decision is never based on a stale clock.
                let now = try Self.nowDate(time, connection)
                let existing = try connection.rows(SQLiteVideoStatements.selectVideo, name: "select video", [.text(id)])
                    .first.map(SQLiteVideoStatements.video(from:))
                let outcome = ClaimRules.outcome(for: existing, at: now, policy: policy)
                let token = ClaimToken.random()
                let decided = ClaimRules.apply(
                    outcome, to: existing, id: id, title: title, originalURL: originalURL, token: token, now: now,
                    lease: lease)!
                let video = try Self.store(decided, replacing: existing, connection)
                return VideoClaim(video: video, outcome: outcome, token: outcome.shouldProcess ? token : nil)
            }
        }
    }

    /// Stores a pending video unless one with this id exists (one transaction).
    @discardableResult
    public func enqueueVideo(id: String, title: String?, originalURL: String?) async throws -> Video {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: .seconds(1))
        let time = self.time
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.immediateTransaction { () throws(ScaleKitError) -> Video in
                if let existing = try connection.rows(SQLiteVideoStatements.selectVideo, name: "select video", [.text(id)]).first {
                    return try SQLiteVideoStatements.video(from: existing)
                }
                let now = try Self.nowDate(time, connection)
                let video = Video(
                    id: id, title: title, originalURL: originalURL, state: .pending, attempts: 0, leaseOwner: nil,
                    leaseExpiresAt: nil, lastError: nil, createdAt: now, updatedAt: now, notBefore: now)
                return try Self.store(video, replacing: nil, connection)
            }
        }
    }

    /// Claims the earliest-due claimable video inside `BEGIN IMMEDIATE`: the
    /// file's write lock makes the pick and the claim one step, so no two
    /// connections get the same video (SQLite's equivalent of `SKIP LOCKED`:
    /// there is only one writer at a time).
    public func claimNext(lease: Duration) async throws -> VideoClaim? {
        try await metrics.claimNext(system: "sqlite") { try await claimNextUntraced(lease: lease) }
    }

    private func claimNextUntraced(lease: Duration) async throws -> VideoClaim? {
        try ClaimRules.validateLease(lease)
        let (time, policy) = (self.time, self.policy)
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.immediateTransaction { () throws(ScaleKitError) -> VideoClaim? in
                let now = try Self.nowDate(time, connection)
                guard
                    let next = try connection.rows(
                        SQLiteVideoStatements.selectNext, name: "select next video",
                        [.integer(UnixMicroseconds.from(now)), .integer(Int64(policy.maxAttempts))]
                    ).first.map(SQLiteVideoStatements.video(from:))
                else { return nil }
                let outcome = ClaimRules.outcome(for: next, at: now, policy: policy)
                let token = ClaimToken.random()
                let decided = ClaimRules.apply(
                    outcome, to: next, id: next.id, title: nil, originalURL: nil, token: token, now: now, lease: lease)!
                return VideoClaim(video: try Self.store(decided, replacing: next, connection), outcome: outcome, token: token)
            }
        }
    }

    /// Ends up to `limit` expired leases by the policy (one transaction).
    @discardableResult
    public func rescueExpiredLeases(limit: Int) async throws -> LeaseRescue {
        let (time, policy) = (self.time, self.policy)
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.immediateTransaction { () throws(ScaleKitError) -> LeaseRescue in
                let now = try Self.nowDate(time, connection)
                let candidates = try connection.rows(
                    SQLiteVideoStatements.selectRescuable, name: "select expired leases",
                    [.integer(UnixMicroseconds.from(now)), .integer(Int64(policy.maxAttempts)), .integer(Int64(max(0, limit)))])
                var rescue = LeaseRescue()
                for row in candidates {
                    let video = try SQLiteVideoStatements.video(from: row)
                    guard let rescued = ClaimRules.rescued(video, at: now, policy: policy) else { continue }
                    _ = try Self.store(rescued, replacing: video, connection)
                    if rescued.state == .abandoned { rescue.abandoned += 1 } else { rescue.requeued += 1 }
                }
                return rescue
            }
        }
    }

    /// Extends the lease when `token` still holds the claim (one UPDATE).
    @discardableResult
    public func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video {
        try ClaimRules.validateLease(lease)
        let now = injectedNow()
        return try await updateHeldClaim(id: id, token: token, name: "renew lease", SQLiteVideoStatements.renewLease) {
            [.integer(Int64((lease.timeInterval * 1e6).rounded())), now]
        }
    }

    /// Marks the video completed when `token` still holds the claim (one UPDATE).
    @discardableResult
    public func completeVideo(id: String, token: ClaimToken) async throws -> Video {
        let now = injectedNow()
        return try await updateHeldClaim(id: id, token: token, name: "complete video", SQLiteVideoStatements.complete) {
            [now]
        }
    }

    /// Marks the video failed (or abandoned after its last attempt) when
    /// `token` still holds the claim, recording the error (one transaction).
    @discardableResult
    public func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video {
        try ClaimRules.validateText(error, name: "error message")
        try Identifier.validate(id, kind: "video id")
        let (time, policy) = (self.time, self.policy)
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.immediateTransaction { () throws(ScaleKitError) -> Video in
                guard
                    let held = try connection.rows(
                        SQLiteVideoStatements.selectHeld, name: "select held video", [.text(id), .text(token.rawValue)]
                    ).first.map(SQLiteVideoStatements.video(from:))
                else { throw try Self.notHeld(id, connection) }
                let failed = ClaimRules.failed(held, error: error, at: try Self.nowDate(time, connection), policy: policy)
                return try Self.store(failed, replacing: held, connection)
            }
        }
    }

    /// The stored video, or `nil`.
    public func video(id: String) async throws -> Video? {
        try Identifier.validate(id, kind: "video id")
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.rows(SQLiteVideoStatements.selectVideo, name: "select video", [.text(id)])
                .first.map(SQLiteVideoStatements.video(from:))
        }
    }

    /// Up to `limit` videos, newest update first (ties: larger id first).
    public func videos(state: VideoState?, limit: Int) async throws -> [Video] {
        let limit = SQLiteValue.integer(Int64(max(0, limit)))
        return try await database.withConnection { connection throws(ScaleKitError) in
            let rows =
                if let state {
                    try connection.rows(
                        SQLiteVideoStatements.newestVideosInState, name: "list videos in state", [.text(state.rawValue), limit])
                } else {
                    try connection.rows(SQLiteVideoStatements.newestVideos, name: "list videos", [limit])
                }
            return try rows.map { row throws(ScaleKitError) in try SQLiteVideoStatements.video(from: row) }
        }
    }

    /// The injected clock's instant for a single-statement write, or NULL:
    /// the statement then reads SQLite's clock itself.
    private func injectedNow() -> SQLiteValue {
        guard case .clock(let clock) = time else { return .null }
        return .integer(UnixMicroseconds.from(clock.now()))
    }

    /// The decision's instant, in whole microseconds: SQLite's clock, or the injected one.
    private static func now(_ time: LeaseTimeSource, _ connection: SQLiteConnection) throws(ScaleKitError) -> Int64 {
        switch time {
        case .clock(let clock):
            return UnixMicroseconds.from(clock.now())
        case .database:
            guard let now = try connection.rows(SQLiteVideoStatements.selectNow, name: "read the clock").first?.integer(0) else {
                throw ScaleKitError(.protocolError, "SQLite returned no time")
            }
            return now
        }
    }

    private static func nowDate(_ time: LeaseTimeSource, _ connection: SQLiteConnection) throws(ScaleKitError) -> Date {
        UnixMicroseconds.date(try now(time, connection))
    }

    /// Inserts `video` (no row before) or writes its changed columns; returns the stored row.
    private static func store(_ video: Video, replacing existing: Video?, _ connection: SQLiteConnection) throws(ScaleKitError) -> Video {
        if let existing, existing == video { return existing }
        let rows =
            existing == nil
            ? try connection.rows(SQLiteVideoStatements.insert, name: "insert video", SQLiteVideoStatements.insertArguments(video))
            : try connection.rows(SQLiteVideoStatements.write, name: "update video", SQLiteVideoStatements.writeArguments(video))
        guard let row = rows.first else {
            throw ScaleKitError(.protocolError, "SQLite returned no row for a written video")
        }
        return try SQLiteVideoStatements.video(from: row)
    }

    /// "No such video" or "not the holder", for a guarded change that matched nothing.
    private static func notHeld(_ id: String, _ connection: SQLiteConnection) throws(ScaleKitError) -> ScaleKitError {
        ClaimRules.notHeld(videoExists: try !connection.rows(SQLiteVideoStatements.exists, name: "video exists", [.text(id)]).isEmpty)
    }

    /// Runs a guarded UPDATE (`video_id = ?1 AND lease_owner = ?2`, further
    /// arguments from `arguments`) and tells "no such video" apart from
    /// "not the holder" when it matches nothing.
    private func updateHeldClaim(
        id: String, token: ClaimToken, name: String, _ sql: String,
        arguments: @escaping @Sendable () -> [SQLiteValue]
    ) async throws -> Video {
        try Identifier.validate(id, kind: "video id")
        return try await ScaleKitSpan.videos(ScaleKitSpan.videosSpanName(name), system: "sqlite") {
            try await database.withConnection { connection throws(ScaleKitError) in
                let rows = try connection.rows(sql, name: name, [.text(id), .text(token.rawValue)] + arguments())
                if let row = rows.first { return try SQLiteVideoStatements.video(from: row) }
                throw try Self.notHeld(id, connection)
            }
        }
    }
}
