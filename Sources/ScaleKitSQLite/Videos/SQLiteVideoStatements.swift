import ScaleKit

/// The repository's SQL, and how a row becomes a ``Video``.
///
/// Every value is a bound parameter; the only text spliced into SQL is the
/// fixed column list below.
enum SQLiteVideoStatements {
    static let columns =
        "video_id, title, original_url, state, attempts, lease_owner, lease_expires_at, last_error, created_at, updated_at"

    static let selectVideo = "SELECT \(columns) FROM videos WHERE video_id = ?1"

    static let insertClaimed = """
        INSERT INTO videos (video_id, title, original_url, state, attempts, lease_owner, lease_expires_at,
                            last_error, created_at, updated_at)
        VALUES (?1, ?2, ?3, 'processing', 1, ?4, ?5, NULL, ?6, ?6)
        RETURNING \(columns)
        """

    static let reclaim = """
        UPDATE videos
        SET state = 'processing', attempts = attempts + 1, lease_owner = ?2, lease_expires_at = ?3, updated_at = ?4
        WHERE video_id = ?1
        RETURNING \(columns)
        """

    static let renewLease = """
        UPDATE videos SET lease_expires_at = ?3, updated_at = ?4
        WHERE video_id = ?1 AND state = 'processing' AND lease_owner = ?2
        RETURNING \(columns)
        """

    static let complete = """
        UPDATE videos
        SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, updated_at = ?3
        WHERE video_id = ?1 AND state = 'processing' AND lease_owner = ?2
        RETURNING \(columns)
        """

    static let fail = """
        UPDATE videos
        SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, last_error = ?4, updated_at = ?3
        WHERE video_id = ?1 AND state = 'processing' AND lease_owner = ?2
        RETURNING \(columns)
        """

    static let exists = "SELECT 1 FROM videos WHERE video_id = ?1"

    static let newestVideos = "SELECT \(columns) FROM videos ORDER BY updated_at DESC, video_id DESC LIMIT ?1"

    static let newestVideosInState =
        "SELECT \(columns) FROM videos WHERE state = ?1 ORDER BY updated_at DESC, video_id DESC LIMIT ?2"

    /// Decodes a row selected with ``columns``.
    static func video(from row: SQLiteRow) throws(ScaleKitError) -> Video {
        guard let id = row.text(0), let stateText = row.text(3), let state = VideoState(rawValue: stateText),
            let attempts = row.integer(4), let createdAt = row.integer(8), let updatedAt = row.integer(9)
        else {
            throw ScaleKitError(.corruptData, "a row of the videos table has a missing or unknown value")
        }
        return Video(
            id: id, title: row.text(1), originalURL: row.text(2), state: state, attempts: Int(attempts),
            leaseOwner: row.text(5).map(ClaimToken.init(rawValue:)),
            leaseExpiresAt: row.integer(6).map(UnixMicroseconds.date),
            lastError: row.text(7),
            createdAt: UnixMicroseconds.date(createdAt), updatedAt: UnixMicroseconds.date(updatedAt))
    }
}

extension SQLiteValue {
    /// A nullable text argument.
    static func optionalText(_ text: String?) -> SQLiteValue {
        text.map(SQLiteValue.text) ?? .null
    }
}
