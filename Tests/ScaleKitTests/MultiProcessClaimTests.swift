import Foundation
import ScaleKitTestSupport
import Testing

/// Four OS processes × 16 tasks claim one video at once through `scalekit
/// hammer claim`: exactly one wins a new video, exactly one wins the retry of
/// a failed one, exactly one takes over an expired lease — on one SQLite file
/// and on one PostgreSQL database.
@Suite struct MultiProcessClaimTests {
    @Test func sqliteFileSharedByProcesses() async throws {
        let folder = try TemporaryFolder()
        try await claimRaces(environment: ["DATABASE_URL": "sqlite:///\(folder.path("videos.sqlite"))", "API_TRACKER_FILE": folder.path("api.json")])
    }

    @Test(.enabled(if: TestServers.postgresEnabled)) func postgresSharedByProcesses() async throws {
        let folder = try TemporaryFolder()
        try await claimRaces(environment: ["DATABASE_URL": try TestServers.requireDatabaseURL(), "API_TRACKER_FILE": folder.path("api.json")])
    }

    private func claimRaces(environment: [String: String]) async throws {
        let id = "mp-\(UUID().uuidString)"
        // Every claim of a race must land within the winner's lease, or a
        // second claimer takes it over: longer under sanitizers, which slow
        // the 64 claims down.
        let lease = 2.0 * min(TestServers.slowdown, 3)
        // Every process connects first and then fires at `start`, so the 64
        // claims of a race land within milliseconds of each other, well inside
        // the winner's lease, however slowly the processes were launched.
        func race() async throws -> (counts: [String: Int], start: Double) {
            let start = Date().timeIntervalSince1970 + 3
            let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
                ["hammer", "claim", id, "--tasks", "16", "--lease", "\(Int(lease))", "--start-at", "\(start)"]
            }
            for result in results { #expect(result.status == 0, "\(result.standardError)") }
            return (try results.map { try $0.counts() }.reduce(into: [:]) { $0.merge($1, uniquingKeysWith: +) }, start)
        }
        func sleepUntil(_ instant: Double) async throws {
            let delay = instant - Date().timeIntervalSince1970
            if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
        }

        let created = try await race()
        #expect(created.counts == ["created": 1, "alreadyProcessing": 63])

        // Let the winner's lease expire: exactly one process takes it over.
        try await sleepUntil(created.start + lease + 0.5)
        let takenOver = try await race()
        #expect(takenOver.counts == ["tookOverExpiredLease": 1, "alreadyProcessing": 63])

        // Fail the video through a fresh claim's token, then race the retry.
        try await sleepUntil(takenOver.start + lease + 0.5)
        let claim = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["claim", id, "--json", "--lease", "60"])
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
