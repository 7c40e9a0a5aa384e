import ScaleKit

/// The repository's SQL, and how a row becomes a ``/ScaleKit/Video``.
///
/// Every value is a bound parameter; the only text spliced into SQL is the
/// fixed column list and the clock expression below.
enum SQLiteVideoStatements {
    static let columns = """
        video_id, title, original_url, state, attempts, lease_owner, lease_expires_at, last_error, created_at, \
        updated_at, not_before, errors
        """

    /// SQLite's own clock in microseconds since 1970 (`julianday('now')`, millisecond
    /// precision, fixed for the whole statement).
    static let databaseNow = "CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 1000"

    /// `?n` when bound, else the database's clock: the time of a single-statement write.
    static func now(_ parameter: Int) -> String { "coalesce(?\(parameter), \(databaseNow))" }

    static let selectNow = "SELECT \(databaseNow)"

    static let selectVideo = "SELECT \(columns) FROM videos WHERE video_id = ?1"

    static let insert = """
        INSERT INTO videos (video_id, title, original_url, state, attempts, lease_owner, lease_expires_at,
                            last_error, created_at, updated_at, not_before, errors)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
        RETURNING \(columns)
        """

    /// Writes every mutable column of a video the rules changed (the title and URL are kept).
    static let write = """
        UPDATE videos
        SET state = ?2, attempts = ?3, lease_owner = ?4, lease_expires_at = ?5, last_error = ?6, updated_at = ?7,
            not_before = ?8, errors = ?9
        WHERE video_id = ?1
        RETURNING \(columns)
        """

    /// The held claim's video, inside the transaction that changes it.
    static let selectHeld = "SELECT \(columns) FROM videos WHERE video_id = ?1 AND state = 'processing' AND lease_owner = ?2"

    /// The earliest-due claimable video (`?1` now, `?2` the attempt cap): the
    /// order and the rows `videos_claimable` indexes.
    static let selectNext = """
        SELECT \(columns) FROM videos
        WHERE state IN ('pending', 'failed', 'processing') AND coalesce(not_before, lease_expires_at) <= ?1
          AND attempts < ?2
        ORDER BY coalesce(not_before, lease_expires_at), video_id LIMIT 1
        """

    /// Expired leases, and due failed videos already at the cap (`?1` now,
    /// `?2` cap, `?3` limit), through the `videos_claimable` index.
    static let selectRescuable = """
        SELECT \(columns) FROM videos
        WHERE state IN ('pending', 'failed', 'processing') AND coalesce(not_before, lease_expires_at) <= ?1
          AND (state = 'processing' OR (state = 'failed' AND attempts >= ?2))
        ORDER BY coalesce(not_before, lease_expires_at), video_id LIMIT ?3
        """

    /// `?3` the lease in microseconds, `?4` now or NULL (the database's clock).
    static let renewLease = """
        UPDATE videos SET lease_expires_at = \(now(4)) + ?3, updated_at = \(now(4))
        WHERE video_id = ?1 AND state = 'processing' AND lease_owner = ?2
        RETURNING \(columns)
        """

    static let complete = """
        UPDATE videos
        SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, not_before = NULL,
            updated_at = \(now(3))
        WHERE video_id = ?1 AND state = 'processing' AND lease_owner = ?2
        RETURNING \(columns)
        """

    static let exists = "SELECT 1 FROM videos WHERE video_id = ?1"

    static let newestVideos = "SELECT \(columns) FROM videos ORDER BY updated_at DESC, video_id DESC LIMIT ?1"

    static let newestVideosInState =
        "SELECT \(columns) FROM videos WHERE state = ?1 ORDER BY updated_at DESC, video_id DESC LIMIT ?2"

    /// The arguments of ``insert``.
    static func insertArguments(_ video: Video) -> [SQLiteValue] {
        let mutable = mutableColumns(video)
        // created_at sits between last_error and updated_at.
        return [.text(video.id), .optionalText(video.title), .optionalText(video.originalURL)] + mutable[..<5]
            + [.integer(UnixMicroseconds.from(video.createdAt))] + mutable[5...]
    }

    /// The arguments of ``write``.
    static func writeArguments(_ video: Video) -> [SQLiteValue] {
        [.text(video.id)] + mutableColumns(video)
    }

    /// state, attempts, lease_owner, lease_expires_at, last_error, updated_at, not_before, errors.
    private static func mutableColumns(_ video: Video) -> [SQLiteValue] {
        [
            .text(video.state.rawValue), .integer(Int64(video.attempts)), .optionalText(video.leaseOwner?.rawValue),
            .optionalInteger(video.leaseExpiresAt.map(UnixMicroseconds.from)), .optionalText(video.lastError),
            .integer(UnixMicroseconds.from(video.updatedAt)), .optionalInteger(video.notBefore.map(UnixMicroseconds.from)),
            .text(VideoErrorHistory.encode(video.errors)),
        ]
    }

    /// Decodes a row selected with ``columns``.
    static func video(from row: SQLiteRow) throws(ScaleKitError) -> Video {
        try VideoRow.decode(text: { row.text($0) }, integer: { row.integer($0) })
    }
}

extension SQLiteValue {
    /// A nullable text argument.
    static func optionalText(_ text: String?) -> SQLiteValue {
        text.map(SQLiteValue.text) ?? .null
    }

    /// A nullable integer argument.
    static func optionalInteger(_ value: Int64?) -> SQLiteValue {
        value.map(SQLiteValue.integer) ?? .null
    }
}
