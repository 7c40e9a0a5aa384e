import Foundation
import ScaleKitTestSupport
import Testing

/// Four OS processes × 16 tasks claim one video at once through `scalekit
/// hammer claim`: exactly one wins a new video, exactly one wins the retry of
/// a failed one, exactly one takes over an expired lease — on one SQLite file
/// and on one PostgreSQL database.
///
/// Leases are ten minutes, far longer than any race takes on any machine;
/// a lease expires only when the test moves its end into the past.
@Suite struct MultiProcessClaimTests {
    @Test func sqliteFileSharedByProcesses() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("videos.sqlite")
        try await claimRaces(environment: ["DATABASE_URL": "sqlite:///\(path)", "API_TRACKER_FILE": folder.path("api.json")]) { id in
            try await LeaseExpiry.expireSQLite(path: path, videoID: id)
        }
    }

    @Test(.enabled(if: TestServers.postgresEnabled)) func postgresSharedByProcesses() async throws {
        let folder = try TemporaryFolder()
        let url = try TestServers.requireDatabaseURL()
        try await claimRaces(environment: ["DATABASE_URL": url, "API_TRACKER_FILE": folder.path("api.json")]) { id in
            try await LeaseExpiry.expirePostgres(url: url, videoID: id)
        }
    }

    /// The same races through PgBouncer in transaction pooling, with unnamed
    /// statements; the lease is expired through the server directly.
    @Test(.enabled(if: TestServers.pgbouncerEnabled)) func postgresThroughPgBouncer() async throws {
        let folder = try TemporaryFolder()
        let direct = try TestServers.requireDatabaseURL()
        let url = try TestServers.requirePgBouncerURL() + "?statement_cache=off"
        try await claimRaces(environment: ["DATABASE_URL": url, "API_TRACKER_FILE": folder.path("api.json")]) { id in
            try await LeaseExpiry.expirePostgres(url: direct, videoID: id)
        }
    }

    private func claimRaces(environment: [String: String], expireLease: (String) async throws -> Void) async throws {
        let id = "mp-\(UUID().uuidString)"
        let lease = 600
        // Every process connects first and then fires at `start`, so the 64
        // claims of a race land within milliseconds of each other, well inside
        // the winner's lease, however slowly the processes were launched.
        func race() async throws -> (counts: [String: Int], start: Double) {
            let start = Date().timeIntervalSince1970 + 3
            let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
                ["hammer", "claim", id, "--tasks", "16", "--lease", "\(lease)", "--start-at", "\(start)"]
            }
            for result in results { #expect(result.status == 0, "\(result.standardError)") }
            return (try results.map { try $0.counts() }.reduce(into: [:]) { $0.merge($1, uniquingKeysWith: +) }, start)
        }
        let created = try await race()
        #expect(created.counts == ["created": 1, "alreadyProcessing": 63])

        // The winner's lease expires: exactly one process takes it over.
        try await expireLease(id)
        let takenOver = try await race()
        #expect(takenOver.counts == ["tookOverExpiredLease": 1, "alreadyProcessing": 63])

        // Fail the video through a fresh claim's token, then race the retry.
        try await expireLease(id)
        let claim = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["claim", id, "--json", "--lease", "60"])
        #expect(claim.status == 0, "\(claim.standardError)")
        let token = try #require((try JSONSerialization.jsonObject(with: Data(claim.standardOutput.utf8)) as? [String: Any])?["token"] as? String)
        let failed = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["fail", id, "--token", token, "--error", "boom"])
        #expect(failed.status == 0, "\(failed.standardError)")
        let retried = try await race()
        #expect(retried.counts == ["retryingFailed": 1, "alreadyProcessing": 63])

        let video = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["videos", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(video.standardOutput.utf8)) as? [[String: Any]])
        let row = try #require(rows.first { $0["id"] as? String == id })
        #expect(row["attempts"] as? Int == 4)
    }
}
