import Foundation
public import Logging
public import ScaleKit

/// A ``VideoRepository`` in an SQLite file: the embedded default, used when
/// no `DATABASE_URL` names a PostgreSQL server.
///
/// Claims are atomic across every connection to the file, in this process
/// or in others: each claim reads and writes inside `BEGIN IMMEDIATE`, which
/// takes the file's write lock before reading, so two claimers never both
/// see a video unclaimed. The file runs in WAL mode (readers never block the
/// writer) with a busy timeout: a claim waits up to that long for another
/// connection's write, then throws ``ScaleKitError/Code/timeout``.
///
/// One repository owns one connection and runs its blocking SQLite calls on
/// a dedicated dispatch queue, never on Swift's cooperative thread pool.
/// Lease times come from the injected ``WallClock``.
public final class SQLiteVideoRepository: VideoRepository {
    /// The database file's path.
    public let path: String
    private let database: SQLiteDatabase
    private let clock: any WallClock
    private let logger: Logger

    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    ///
    /// - Parameters:
    ///   - path: the file; relative paths are relative to the working directory.
    ///   - clock: the source of lease and timestamp times.
    ///   - busyTimeout: how long a write waits for another connection's lock (5 s).
    ///   - logger: receives schema migrations (info) and nothing per call.
    /// - Throws: ``ScaleKitError`` with ``ScaleKitError/Code/ioError`` when the file cannot be
    ///   opened or created, ``ScaleKitError/Code/corruptData`` when it is not a database.
    public init(
        path: String, clock: any WallClock = .system, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "scalekit.sqlite")
    ) async throws {
        guard !path.isEmpty, !path.utf8.contains(0) else {
            throw ScaleKitError(.invalidArgument, "an SQLite path must be non-empty and free of NUL bytes")
        }
        self.path = path
        self.clock = clock
        self.logger = logger
        self.database = SQLiteDatabase(path: path, busyTimeout: busyTimeout)
        try await database.open()
        let now = UnixMicroseconds.from(clock.now())
        let applied = try await database.withConnection { connection throws(ScaleKitError) in
            try SQLiteSchema.migrate(connection, nowMicroseconds: now)
        }
        if !applied.isEmpty {
            logger.info("applied SQLite schema migrations", metadata: ["path": "\(path)", "versions": "\(applied)"])
        }
    }

    /// Opens the database a `DATABASE_URL` of the form `sqlite:///path` names
    /// (`sqlite:///relative.db`, `sqlite:////absolute/path.db`).
    /// - Throws: ``ScaleKitError/Code/invalidConfiguration`` for any other URL.
    public convenience init(
        url: String, clock: any WallClock = .system, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "scalekit.sqlite")
    ) async throws {
        guard case .sqlite(let path) = try DatabaseLocation(parsing: url) else {
            throw ScaleKitError(
                .invalidConfiguration, "\(redactingCredentials(in: url)) is not an sqlite:/// URL")
        }
        try await self.init(path: path, clock: clock, busyTimeout: busyTimeout, logger: logger)
    }

    /// Closes the connection; later calls throw ``ScaleKitError/Code/poolShutDown``.
    public func close() async {
        await database.close()
    }

    /// Atomically creates or claims the video (one `BEGIN IMMEDIATE`
    /// transaction). Blocks, off the cooperative pool, for up to the busy
    /// timeout while another connection writes.
    public func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: lease)
        let clock = self.clock
        return try await database.withConnection { connection throws(ScaleKitError) in
            try connection.immediateTransaction { () throws(ScaleKitError) -> VideoClaim in
                // The time is read under the write lock, so a decision is never based on a stale clock.
                let now = UnixMicroseconds.date(UnixMicroseconds.from(clock.now()))
                let existing = try connection.rows(SQLiteVideoStatements.selectVideo, name: "select video", [.text(id)])
                    .first.map(SQLiteVideoStatements.video(from:))
                let outcome = ClaimRules.outcome(for: existing, at: now)
                if let existing, !outcome.shouldProcess {
                    return VideoClaim(video: existing, outcome: outcome, token: nil)
                }
                let token = ClaimToken.random()
                let nowValue = SQLiteValue.integer(UnixMicroseconds.from(now))
                let leaseEnd = SQLiteValue.integer(UnixMicroseconds.from(ClaimRules.leaseEnd(from: now, lease: lease)))
                let rows =
                    existing == nil
                    ? try connection.rows(
                        SQLiteVideoStatements.insertClaimed, name: "insert claimed video",
                        [.text(id), .optionalText(title), .optionalText(originalURL), .text(token.rawValue), leaseEnd, nowValue])
                    : try connection.rows(
                        SQLiteVideoStatements.reclaim, name: "reclaim video",
                        [.text(id), .text(token.rawValue), leaseEnd, nowValue])
                guard let row = rows.first else {
                    throw ScaleKitError(.protocolError, "SQLite returned no row for a claimed video")
                }
                return VideoClaim(video: try SQLiteVideoStatements.video(from: row), outcome: outcome, token: token)
            }
        }
    }

    /// Extends the lease when `token` still holds the claim (one UPDATE).
    @discardableResult
    public func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video {
        try ClaimRules.validateLease(lease)
        let clock = self.clock
        return try await updateHeldClaim(id: id, token: token, name: "renew lease", SQLiteVideoStatements.renewLease) {
            let now = UnixMicroseconds.date(UnixMicroseconds.from(clock.now()))
            return [
                .integer(UnixMicroseconds.from(ClaimRules.leaseEnd(from: now, lease: lease))),
                .integer(UnixMicroseconds.from(now)),
            ]
        }
    }

    /// Marks the video completed when `token` still holds the claim (one UPDATE).
    @discardableResult
    public func completeVideo(id: String, token: ClaimToken) async throws -> Video {
        let clock = self.clock
        return try await updateHeldClaim(id: id, token: token, name: "complete video", SQLiteVideoStatements.complete) {
            [.integer(UnixMicroseconds.from(clock.now()))]
        }
    }

    /// Marks the video failed when `token` still holds the claim (one UPDATE).
    @discardableResult
    public func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video {
        try ClaimRules.validateText(error, name: "error message")
        let clock = self.clock
        return try await updateHeldClaim(id: id, token: token, name: "fail video", SQLiteVideoStatements.fail) {
            [.integer(UnixMicroseconds.from(clock.now())), .text(error)]
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

    /// Runs a guarded UPDATE (`video_id = ?1 AND lease_owner = ?2`, further
    /// arguments from `arguments`) and tells "no such video" apart from
    /// "not the holder" when it matches nothing.
    private func updateHeldClaim(
        id: String, token: ClaimToken, name: String, _ sql: String,
        arguments: @escaping @Sendable () -> [SQLiteValue]
    ) async throws -> Video {
        try Identifier.validate(id, kind: "video id")
        return try await database.withConnection { connection throws(ScaleKitError) in
            let rows = try connection.rows(sql, name: name, [.text(id), .text(token.rawValue)] + arguments())
            if let row = rows.first { return try SQLiteVideoStatements.video(from: row) }
            if try connection.rows(SQLiteVideoStatements.exists, name: "video exists", [.text(id)]).isEmpty {
                throw ScaleKitError(.notFound, "no video with this id")
            }
            throw ScaleKitError(.notClaimHolder, "this token does not hold the video's claim")
        }
    }
}
