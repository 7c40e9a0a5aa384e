import CSQLite
import Foundation
import ScaleKit
@_spi(SchemaTesting) import ScaleKitPostgres
@_spi(SchemaTesting) import ScaleKitSQLite
import ScaleKitTestSupport
import Testing

/// A database that the first release (schema version 1: no pending or
/// abandoned state, no backoff, no error history) left with rows in every
/// state is upgraded in place by the next repository that opens it, and its
/// rows then follow today's rules: nothing lost, nothing claimed twice.
@Suite struct SchemaUpgradeTests {
    /// The rows a version-1 release wrote, one per state it knew.
    private static let ids = (completed: "v1-completed", failed: "v1-failed", live: "v1-live", expired: "v1-expired")

    @Test(.enabled(if: TestServers.postgresEnabled)) func postgresVersion1DatabaseIsUpgradedInPlace() async throws {
        let url = try TestServers.requireDatabaseURL()
        let schema = "scalekit_upgrade_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let old = try PostgresVideoRepository(url: url, schema: schema)
        #expect(try await old.migrate(throughVersion: 1) == [1])
        await old.shutdown()

        let connection = try await PostgresConnection.connect(url: url)
        _ = try await connection.query(
            """
            INSERT INTO \(schema).videos (video_id, title, original_url, state, attempts, lease_owner, lease_expires_at,
                                          last_error, created_at, updated_at) VALUES
                ($1, 'done', NULL, 'completed', 1, NULL, NULL, NULL, now() - interval '2 days', now() - interval '1 day'),
                ($2, 'broke', NULL, 'failed', 2, NULL, NULL, 'decoder crashed', now() - interval '2 days', now() - interval '1 hour'),
                ($3, 'running', NULL, 'processing', 1, 'v1-worker-a', now() + interval '1 hour', NULL, now(), now()),
                ($4, 'orphaned', NULL, 'processing', 1, 'v1-worker-b', now() - interval '1 hour', NULL, now() - interval '3 hours', now() - interval '2 hours')
            RETURNING video_id
            """, name: "version 1 rows", [Self.ids.completed, Self.ids.failed, Self.ids.live, Self.ids.expired], prepared: false)
        await connection.close()

        let repository = try PostgresVideoRepository(url: url, schema: schema)
        try await expectUpgradedRowsFollowTodaysRules(repository)
        let versions = try await PostgresConnection.connect(url: url)
        let recorded = try await versions.query(
            "SELECT version FROM \(schema).scalekit_schema_migrations ORDER BY version", name: "versions", prepared: false)
        await versions.close()
        #expect(recorded.compactMap { $0[0] } == ["1", "2", "3"])
        await repository.shutdown()
    }

    @Test func sqliteVersion1DatabaseIsUpgradedInPlace() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("v1.sqlite")
        #expect(try await SQLiteVideoRepository.createDatabase(path: path, throughVersion: 1) == [1])
        // Version 1 stored instants as microseconds since 1970.
        let now = UnixMicroseconds.from(Date())
        let hour: Int64 = 3_600_000_000
        try await Self.executeSQLite(
            path: path,
            """
            INSERT INTO videos (video_id, title, original_url, state, attempts, lease_owner, lease_expires_at,
                                last_error, created_at, updated_at) VALUES
                ('\(Self.ids.completed)', 'done', NULL, 'completed', 1, NULL, NULL, NULL, \(now - 48 * hour), \(now - 24 * hour)),
                ('\(Self.ids.failed)', 'broke', NULL, 'failed', 2, NULL, NULL, 'decoder crashed', \(now - 48 * hour), \(now - hour)),
                ('\(Self.ids.live)', 'running', NULL, 'processing', 1, 'v1-worker-a', \(now + hour), NULL, \(now), \(now)),
                ('\(Self.ids.expired)', 'orphaned', NULL, 'processing', 1, 'v1-worker-b', \(now - hour), NULL, \(now - 3 * hour), \(now - 2 * hour))
            """)

        let repository = try await SQLiteVideoRepository(path: path)
        try await expectUpgradedRowsFollowTodaysRules(repository)
        await repository.close()
    }

    /// The same checks for either backend, on the server's (or SQLite's) own clock.
    private func expectUpgradedRowsFollowTodaysRules(_ repository: some VideoRepository) async throws {
        // Every row survived with what it said.
        let completed = try #require(try await repository.video(id: Self.ids.completed))
        #expect(completed.state == .completed && completed.title == "done" && completed.attempts == 1)
        let failed = try #require(try await repository.video(id: Self.ids.failed))
        #expect(failed.state == .failed && failed.attempts == 2 && failed.lastError == "decoder crashed")
        // The last error becomes the first entry of the history, under the attempt that made it.
        #expect(failed.errors.map(\.attempt) == [2] && failed.errors.map(\.message) == ["decoder crashed"])
        let live = try #require(try await repository.video(id: Self.ids.live))
        #expect(live.state == .processing && live.leaseOwner?.rawValue == "v1-worker-a")

        // Work that needs doing is found without anyone asking for its id: the
        // failed video (due: version 1 had no backoff) and the expired lease.
        var handedOut: [String: VideoClaim] = [:]
        while let claim = try await repository.claimNext(lease: .seconds(600)) {
            #expect(handedOut[claim.video.id] == nil, "\(claim.video.id) was handed out twice")
            handedOut[claim.video.id] = claim
        }
        #expect(Set(handedOut.keys) == [Self.ids.failed, Self.ids.expired])
        #expect(handedOut[Self.ids.failed]?.outcome == .retryingFailed && handedOut[Self.ids.failed]?.video.attempts == 3)
        #expect(handedOut[Self.ids.expired]?.outcome == .tookOverExpiredLease && handedOut[Self.ids.expired]?.video.attempts == 2)

        // The live lease and the completed video keep their meaning.
        #expect(try await repository.claimVideo(id: Self.ids.live).outcome == .alreadyProcessing)
        #expect(try await repository.claimVideo(id: Self.ids.completed).outcome == .alreadyCompleted)
        // A claim of version 1's worker still completes under the new schema, by its token.
        let done = try await repository.completeVideo(id: Self.ids.live, token: ClaimToken(rawValue: "v1-worker-a"))
        #expect(done.state == .completed)
        #expect(try await repository.videos(state: nil).count == 4)
    }

    /// Runs SQL on the file through a connection of its own (sqlite3 blocks: off the cooperative pool).
    private static func executeSQLite(path: String, _ sql: String) async throws {
        try await offThePool {
            var database: OpaquePointer?
            guard sqlite3_open_v2(path, &database, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let database else {
                throw LeaseExpiry.Failure(description: "cannot open \(path)")
            }
            defer { sqlite3_close_v2(database) }
            guard sqlite3_exec(database, sql, nil, nil, nil) == SQLITE_OK else {
                throw LeaseExpiry.Failure(description: String(cString: sqlite3_errmsg(database)))
            }
        }
    }
}
