import CSQLite
import Foundation
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport

/// Brings a claim's lease to an end on purpose, by moving its end a minute
/// into the past in the database, so tests of takeover never wait for a
/// lease to run out (and never depend on how fast a race ran).
enum LeaseExpiry {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The end a lease gets: a minute ago, whatever the clocks' small differences.
    private static var past: Date { Date().addingTimeInterval(-60) }

    static func expirePostgres(url: String, videoID: String, schema: String = "public") async throws {
        let connection = try await PostgresConnection.connect(url: url)
        let rows = try await connection.query(
            "UPDATE \(schema).videos SET lease_expires_at = now() - interval '60 seconds' WHERE video_id = $1 AND state = 'processing' RETURNING video_id",
            name: "expire lease", [videoID], prepared: false)
        await connection.close()
        guard rows.count == 1 else { throw Failure(description: "no processing video \(videoID) to expire") }
    }

    static func expireSQLite(path: String, videoID: String) async throws {
        let changed = try await updateSQLite(
            path: path, "UPDATE videos SET lease_expires_at = ?1 WHERE video_id = ?2 AND state = 'processing'", text: videoID)
        guard changed == 1 else { throw Failure(description: "no processing video \(videoID) to expire") }
    }

    /// Runs one UPDATE whose ?1 is a minute ago (as the SQLite backend
    /// stores instants) and ?2 is `text`; returns how many rows it changed.
    /// sqlite3 calls block (on the file lock, too): off the cooperative pool.
    static func updateSQLite(path: String, _ sql: String, text: String) async throws -> Int {
        let microseconds = UnixMicroseconds.from(past)
        return try await offThePool {
            var database: OpaquePointer?
            guard sqlite3_open_v2(path, &database, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let database else {
                throw Failure(description: "cannot open \(path)")
            }
            defer { sqlite3_close_v2(database) }
            sqlite3_busy_timeout(database, 30_000)
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(database, sql, -1, &statement, nil) == SQLITE_OK else {
                throw Failure(description: String(cString: sqlite3_errmsg(database)))
            }
            defer { sqlite3_finalize(statement) }
            sqlite3_bind_int64(statement, 1, microseconds)
            sqlite3_bind_text(statement, 2, text, -1, scalekit_sqlite_transient())
            guard sqlite3_step(statement) == SQLITE_DONE else {
                throw Failure(description: String(cString: sqlite3_errmsg(database)))
            }
            return Int(sqlite3_changes(database))
        }
    }
}

extension LeaseExpiry {
    /// Ends every live lease of the videos whose id starts with `prefix` (a worker that was killed); returns how many.
    static func expireAllPostgres(url: String, prefix: String) async throws -> Int {
        let connection = try await PostgresConnection.connect(url: url)
        let rows = try await connection.query(
            "UPDATE videos SET lease_expires_at = now() - interval '60 seconds' WHERE state = 'processing' AND starts_with(video_id, $1) RETURNING video_id",
            name: "expire leases", [prefix], prepared: false)
        await connection.close()
        return rows.count
    }

    static func expireAllSQLite(path: String, prefix: String) async throws -> Int {
        try await updateSQLite(
            path: path, "UPDATE videos SET lease_expires_at = ?1 WHERE state = 'processing' AND substr(video_id, 1, length(?2)) = ?2",
            text: prefix)
    }
}
