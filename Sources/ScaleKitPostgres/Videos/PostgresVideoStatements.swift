import ScaleKit

/// The repository's SQL for one schema, and how a row becomes a ``/ScaleKit/Video``.
///
/// Values are always bound parameters. Timestamps travel as whole
/// microseconds since 1970 (`bigint`), converted exactly on the server, so a
/// `Date` comes back as the same `Date` to the microsecond. Every instant a
/// statement writes or compares is the server's (`statement_timestamp()`)
/// unless the "now" parameter is bound (a test's manual clock): the caller's
/// clock never decides a lease.
struct PostgresVideoStatements: Sendable {
    let claim: String
    let claimNext: String
    let enqueue: String
    let rescue: String
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
        \(microseconds("\(table).created_at")), \(microseconds("\(table).updated_at")), \
        \(microseconds("\(table).not_before")), \(table).errors::text
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

    /// Parameter `$n` when bound, else the server's clock at the start of the statement.
    static func now(_ parameter: Int) -> String {
        "COALESCE(\(timestamp(parameter)), statement_timestamp())"
    }

    /// Parameter `$n` (microseconds) as an interval.
    static func interval(_ parameter: Int) -> String {
        "($\(parameter)::bigint * interval '1 microsecond')"
    }

    /// - Parameter schema: the schema name, already quoted as an identifier.
    init(schema: String) {
        let videos = "\(schema).videos"
        let columns = Self.columns("v")
        let held = "v.video_id = $1::text AND v.state = 'processing' AND v.lease_owner = $2::text"
        // $1 id, $2 title, $3 URL, $4 token, $5 now or NULL, $6 lease µs, $7 attempt cap.
        claim = """
            SELECT c.outcome, \(Self.columns("(c.video)"))
            FROM \(schema).scalekit_claim($1::text, $2::text, $3::text, $4::text, \(Self.timestamp(5)), \
            $6::bigint, $7::integer) AS c
            """
        // $1 token, $2 lease µs, $3 attempt cap, $4 now or NULL (PostgresSchema.claimNextFunction).
        claimNext = """
            SELECT c.outcome, \(Self.columns("(c.video)"))
            FROM \(schema).scalekit_claim_next($1::text, $2::bigint, $3::integer, \(Self.timestamp(4))) AS c
            """
        // $1 id, $2 title, $3 URL, $4 now or NULL.
        enqueue = """
            INSERT INTO \(videos) AS v (video_id, title, original_url, state, attempts, created_at, updated_at, not_before)
            VALUES ($1::text, $2::text, $3::text, 'pending', 0, \(Self.now(4)), \(Self.now(4)), \(Self.now(4)))
            ON CONFLICT (video_id) DO NOTHING
            RETURNING \(columns)
            """
        // $1 attempt cap, $2 backoff µs, $3 max backoff µs, $4 limit, $5 now or NULL.
        let rescueNow = Self.now(5)
        rescue = """
            WITH due AS (
                SELECT d.video_id FROM \(videos) AS d
                WHERE d.state IN ('pending', 'failed', 'processing')
                  AND COALESCE(d.not_before, d.lease_expires_at) <= \(rescueNow)
                  AND (d.state = 'processing' OR (d.state = 'failed' AND d.attempts >= $1::integer))
                ORDER BY COALESCE(d.not_before, d.lease_expires_at), d.video_id COLLATE "C"
                LIMIT $4::bigint FOR UPDATE SKIP LOCKED)
            UPDATE \(videos) AS v
            SET state = CASE WHEN v.attempts >= $1::integer THEN 'abandoned' ELSE 'failed' END,
                not_before = CASE WHEN v.attempts >= $1::integer THEN NULL
                                  ELSE \(rescueNow) + \(schema).scalekit_backoff(v.attempts, $2::bigint, $3::bigint) END,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = \(rescueNow),
                last_error = CASE WHEN v.state = 'processing' THEN 'lease expired' ELSE v.last_error END,
                errors = CASE WHEN v.state = 'processing'
                              THEN \(schema).scalekit_push_error(v.errors, v.attempts, 'lease expired', \(rescueNow))
                              ELSE v.errors END
            FROM due WHERE v.video_id = due.video_id
            RETURNING v.state
            """
        selectVideo = "SELECT \(columns) FROM \(videos) AS v WHERE v.video_id = $1::text"
        // $3 lease µs, $4 now or NULL.
        renewLease = """
            UPDATE \(videos) AS v SET lease_expires_at = \(Self.now(4)) + \(Self.interval(3)), updated_at = \(Self.now(4))
            WHERE \(held)
            RETURNING \(columns)
            """
        // $3 now or NULL.
        complete = """
            UPDATE \(videos) AS v
            SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, not_before = NULL,
                updated_at = \(Self.now(3))
            WHERE \(held)
            RETURNING \(columns)
            """
        // $3 error, $4 now or NULL, $5 attempt cap, $6 backoff µs, $7 max backoff µs.
        let failNow = Self.now(4)
        fail = """
            UPDATE \(videos) AS v
            SET state = CASE WHEN v.attempts >= $5::integer THEN 'abandoned' ELSE 'failed' END,
                not_before = CASE WHEN v.attempts >= $5::integer THEN NULL
                                  ELSE \(failNow) + \(schema).scalekit_backoff(v.attempts, $6::bigint, $7::bigint) END,
                lease_owner = NULL, lease_expires_at = NULL, last_error = $3::text, updated_at = \(failNow),
                errors = \(schema).scalekit_push_error(v.errors, v.attempts, $3::text, \(failNow))
            WHERE \(held)
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

    /// Decodes the twelve video columns starting at `offset`.
    static func video(from row: PostgresRow, offset: Int = 0) throws(ScaleKitError) -> Video {
        // libpq returns every value as text.
        try VideoRow.decode(text: { row[offset + $0] }, integer: { row[offset + $0].flatMap { Int64($0) } })
    }
}
