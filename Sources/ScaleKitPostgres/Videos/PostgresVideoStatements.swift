import ScaleKit

/// The repository's SQL for one schema, and how a row becomes a ``Video``.
///
/// Values are always bound parameters. Timestamps travel as whole
/// microseconds since 1970 (`bigint`), converted exactly on the server, so a
/// `Date` comes back as the same `Date` to the microsecond.
struct PostgresVideoStatements: Sendable {
    let claim: String
    let selectVideo: String
    let renewLease: String
    let complete: String
    let fail: String
    let exists: String
    let newestVideos: String
    let newestVideosInState: String

    /// The video columns as the decoder expects them, timestamps as microseconds.
    static func columns(_ table: String) -> String {
        """
        \(table).video_id, \(table).title, \(table).original_url, \(table).state, \(table).attempts, \
        \(table).lease_owner, \(microseconds("\(table).lease_expires_at")), \(table).last_error, \
        \(microseconds("\(table).created_at")), \(microseconds("\(table).updated_at"))
        """
    }

    /// A `timestamptz` column read as microseconds since 1970 (exact: `extract` returns numeric).
    static func microseconds(_ column: String) -> String {
        "(extract(epoch FROM \(column)) * 1000000)::bigint"
    }

    /// Parameter `$n` (microseconds since 1970) as a `timestamptz`, exactly.
    static func timestamp(_ parameter: Int) -> String {
        "(timestamptz 'epoch' + $\(parameter)::bigint * interval '1 microsecond')"
    }

    /// - Parameter schema: the schema name, already quoted as an identifier.
    init(schema: String) {
        let videos = "\(schema).videos"
        let columns = Self.columns("v")
        claim = """
            SELECT c.outcome, \(Self.columns("c"))
            FROM \(schema).scalekit_claim_video($1::text, $2::text, $3::text, $4::text, \
            \(Self.timestamp(5)), \(Self.timestamp(6))) AS c
            """
        selectVideo = "SELECT \(columns) FROM \(videos) AS v WHERE v.video_id = $1::text"
        renewLease = """
            UPDATE \(videos) AS v SET lease_expires_at = \(Self.timestamp(3)), updated_at = \(Self.timestamp(4))
            WHERE v.video_id = $1::text AND v.state = 'processing' AND v.lease_owner = $2::text
            RETURNING \(columns)
            """
        complete = """
            UPDATE \(videos) AS v
            SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL,
                updated_at = \(Self.timestamp(3))
            WHERE v.video_id = $1::text AND v.state = 'processing' AND v.lease_owner = $2::text
            RETURNING \(columns)
            """
        fail = """
            UPDATE \(videos) AS v
            SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, last_error = $4::text,
                updated_at = \(Self.timestamp(3))
            WHERE v.video_id = $1::text AND v.state = 'processing' AND v.lease_owner = $2::text
            RETURNING \(columns)
            """
        exists = "SELECT 1 FROM \(videos) WHERE video_id = $1::text"
        // COLLATE "C" orders ids by code point, as Swift and SQLite do, whatever the database's locale.
        newestVideos = """
            SELECT \(columns) FROM \(videos) AS v
            ORDER BY v.updated_at DESC, v.video_id COLLATE "C" DESC LIMIT $1::bigint
            """
        newestVideosInState = """
            SELECT \(columns) FROM \(videos) AS v WHERE v.state = $1::text
            ORDER BY v.updated_at DESC, v.video_id COLLATE "C" DESC LIMIT $2::bigint
            """
    }

    /// Decodes the ten video columns starting at `offset`.
    static func video(from row: PostgresRow, offset: Int = 0) throws(ScaleKitError) -> Video {
        func text(_ column: Int) -> String? { row[offset + column] }
        func integer(_ column: Int) -> Int64? { text(column).flatMap { Int64($0) } }
        guard let id = text(0), let state = text(3).flatMap(VideoState.init(rawValue:)), let attempts = integer(4),
            let createdAt = integer(8), let updatedAt = integer(9)
        else {
            throw ScaleKitError(.corruptData, "a row of the videos table has a missing or unknown value")
        }
        return Video(
            id: id, title: text(1), originalURL: text(2), state: state, attempts: Int(attempts),
            leaseOwner: text(5).map(ClaimToken.init(rawValue:)),
            leaseExpiresAt: integer(6).map(UnixMicroseconds.date),
            lastError: text(7),
            createdAt: UnixMicroseconds.date(createdAt), updatedAt: UnixMicroseconds.date(updatedAt))
    }
}
