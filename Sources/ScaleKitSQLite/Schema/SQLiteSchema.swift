import ScaleKit

/// One step of the schema: applied once, in version order, recorded in
/// `scalekit_schema_migrations`.
struct SQLiteMigration: SchemaMigration {
    var version: Int
    var description: String
    var statements: [String]
}

/// Creates and upgrades the tables ScaleKit keeps in an SQLite file.
///
/// Safe to run from several processes at once: the whole run holds SQLite's
/// write lock (`BEGIN IMMEDIATE`), so the second process waits, then finds
/// every version recorded and applies nothing. Timestamps are integers:
/// microseconds since 1970-01-01 UTC. See Docs/Databases.md.
enum SQLiteSchema {
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            version: 1, description: "videos table",
            statements: [
                """
                CREATE TABLE videos (
                    video_id TEXT NOT NULL PRIMARY KEY,
                    title TEXT,
                    original_url TEXT,
                    state TEXT NOT NULL CHECK (state IN ('processing', 'completed', 'failed')),
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    lease_owner TEXT,
                    lease_expires_at INTEGER,
                    last_error TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                )
                """,
                "CREATE INDEX videos_by_update ON videos (updated_at DESC, video_id DESC)",
                "CREATE INDEX videos_by_state_and_update ON videos (state, updated_at DESC, video_id DESC)",
            ]),
        // SQLite cannot change a CHECK constraint in place: the table is
        // rebuilt (inside the migration's transaction, so all or nothing).
        SQLiteMigration(
            version: 2, description: "pending and abandoned states, backoff, error history, claim-next index",
            statements: [
                """
                CREATE TABLE videos_v2 (
                    video_id TEXT NOT NULL PRIMARY KEY,
                    title TEXT,
                    original_url TEXT,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'processing', 'completed', 'failed', 'abandoned')),
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    lease_owner TEXT,
                    lease_expires_at INTEGER,
                    last_error TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    not_before INTEGER,
                    errors TEXT NOT NULL DEFAULT '[]'
                )
                """,
                """
                INSERT INTO videos_v2 (video_id, title, original_url, state, attempts, lease_owner, lease_expires_at,
                                       last_error, created_at, updated_at, not_before, errors)
                SELECT video_id, title, original_url, state, attempts, lease_owner, lease_expires_at, last_error,
                       created_at, updated_at, CASE state WHEN 'failed' THEN updated_at END,
                       CASE WHEN last_error IS NULL THEN '[]'
                            ELSE json_array(json_object('attempt', attempts, 'message', last_error, 'at', updated_at)) END
                FROM videos
                """,
                "DROP TABLE videos",
                "ALTER TABLE videos_v2 RENAME TO videos",
                "CREATE INDEX videos_by_update ON videos (updated_at DESC, video_id DESC)",
                "CREATE INDEX videos_by_state_and_update ON videos (state, updated_at DESC, video_id DESC)",
                """
                CREATE INDEX videos_claimable ON videos (coalesce(not_before, lease_expires_at), video_id)
                WHERE state IN ('pending', 'failed', 'processing')
                """,
            ]),
    ]

    /// Applies every migration the file lacks (up to `last`, for tests that
    /// make a database as an earlier release left it); returns the versions applied.
    @discardableResult
    static func migrate(
        _ connection: SQLiteConnection, nowMicroseconds: Int64, through last: Int = .max
    ) throws(ScaleKitError) -> [Int] {
        try connection.immediateTransaction { () throws(ScaleKitError) -> [Int] in
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS scalekit_schema_migrations (
                    version INTEGER NOT NULL PRIMARY KEY,
                    description TEXT NOT NULL,
                    applied_at INTEGER NOT NULL
                )
                """, name: "create migrations table")
            let applied = Set(
                try connection.rows("SELECT version FROM scalekit_schema_migrations", name: "read schema versions")
                    .compactMap { $0.integer(0) })
            return try SchemaMigrations.run(migrations, through: last, applied: Set(applied.map { Int($0) })) {
                (migration) throws(ScaleKitError) in
                for statement in migration.statements {
                    try connection.execute(statement, name: "migration \(migration.version)")
                }
                try connection.rows(
                    "INSERT INTO scalekit_schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    name: "record schema version",
                    [.integer(Int64(migration.version)), .text(migration.description), .integer(nowMicroseconds)])
            }
        }
    }
}
