import Foundation
import Glibc
import ScaleKitPostgres
import ScaleKitTestSupport
import Testing

/// Four OS processes × 16 tasks drain 1 000 pending videos with `scalekit
/// hammer drain` (claimNext, work, complete) while one of them is killed with
/// SIGKILL mid-run: every video ends completed, none is acknowledged twice,
/// and the killed worker's videos come back through the rescuer once their
/// leases end. Leases are ten minutes; the test ends the killed worker's
/// leases itself, in the database, so no verdict depends on timing.
@Suite struct MultiProcessDrainTests {
    @Test func sqliteDrainSurvivesAKilledWorker() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("videos.sqlite")
        try await drain(environment: ["DATABASE_URL": "sqlite:///\(path)", "API_TRACKER_FILE": folder.path("api.json")]) { prefix in
            try await LeaseExpiry.expireAllSQLite(path: path, prefix: prefix)
        }
    }

    @Test(.enabled(if: TestServers.postgresEnabled)) func postgresDrainSurvivesAKilledWorker() async throws {
        let folder = try TemporaryFolder()
        let url = try await Self.databaseOfItsOwn(on: try TestServers.requireDatabaseURL())
        try await drain(environment: ["DATABASE_URL": url, "API_TRACKER_FILE": folder.path("api.json")]) { prefix in
            try await LeaseExpiry.expireAllPostgres(url: url, prefix: prefix)
        }
    }

    /// The same drain with every worker behind PgBouncer in transaction
    /// pooling (`statement_cache=off`): claimNext's SKIP LOCKED and the
    /// completions hold their guarantees when each transaction may run on
    /// another server connection.
    @Test(.enabled(if: TestServers.pgbouncerEnabled)) func postgresDrainThroughPgBouncerSurvivesAKilledWorker() async throws {
        let folder = try TemporaryFolder()
        let direct = try await Self.databaseOfItsOwn(on: try TestServers.requireDatabaseURL())
        let database = String(direct[direct.index(after: try #require(direct.lastIndex(of: "/")))...])
        let bouncer = try TestServers.requirePgBouncerURL()
        let url = try #require(bouncer.lastIndex(of: "/").map { String(bouncer[..<$0]) + "/" + database + "?statement_cache=off" })
        try await drain(environment: ["DATABASE_URL": url, "API_TRACKER_FILE": folder.path("api.json")]) { prefix in
            try await LeaseExpiry.expireAllPostgres(url: direct, prefix: prefix)
        }
    }

    /// A database of its own on `server`, and its URL: claimNext hands out
    /// any due video, and other tests expire leases in the shared database on purpose.
    private static func databaseOfItsOwn(on server: String) async throws -> String {
        let name = "drain_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try await PostgresConnection.connect(url: server)
        try await admin.execute("CREATE DATABASE \(name)", name: "create database")
        await admin.close()
        return try #require(server.range(of: "/", options: .backwards).map { String(server[..<$0.lowerBound]) + "/" + name })
    }

    private func drain(environment: [String: String], expireLeases: (String) async throws -> Int) async throws {
        let prefix = "drain-\(UUID().uuidString)"
        let count = 1_000
        let enqueued = try await ScaleKitProcesses.runOne(
            environment: environment, arguments: ["enqueue", "--prefix", prefix, "--count", "\(count)", "--json"])
        #expect(enqueued.status == 0, "\(enqueued.standardError)")

        let drain = ["hammer", "drain", "--tasks", "16", "--lease", "600", "--work-ms", "20"]
        // The victim starts first and stops once it has completed a video, each
        // task keeping the claim it holds; it never ends on its own, so the kill
        // always finds it in the middle of its work, however slowly it started
        // and however fast the others drain the queue.
        var workers = [try ScaleKitProcesses.start(environment: environment, arguments: drain + ["--stall-after", "1"])]
        _ = try await workers[0].firstLine()
        let start = Date().timeIntervalSince1970 + 3
        for _ in 1..<4 { workers.append(try ScaleKitProcesses.start(environment: environment, arguments: drain + ["--start-at", "\(start)"])) }
        // Killed while the others are draining: once any of them has completed a
        // video (whichever started first; a late one may find nothing left).
        let others = Array(workers.dropFirst())
        await withTaskGroup(of: Bool.self) { group in
            for worker in others { group.addTask { (try? await worker.firstLine()) != nil } }
            for await printed in group where printed {
                group.cancelAll()
                break
            }
        }
        await workers[0].kill(SIGKILL)
        var results: [ScaleKitProcesses.Result] = []
        for worker in workers { results.append(try await worker.wait()) }
        #expect(results[0].crashed, "the victim ended before it was killed")
        for result in results.dropFirst() { #expect(result.status == 0 && !result.crashed, "\(result.standardError)") }

        // The survivors stopped when nothing was due; the victim's claims still hold ten-minute leases.
        let orphaned = try await expireLeases(prefix)
        #expect(orphaned <= 16, "the victim held at most one claim per task: \(orphaned)")
        let rescue = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["rescue", "--json"])
        #expect(rescue.status == 0, "\(rescue.standardError)")
        let rescued = try JSONSerialization.jsonObject(with: Data(rescue.standardOutput.utf8)) as? [String: Int]
        #expect(rescued?["requeued"] == orphaned && rescued?["abandoned"] == 0, "\(rescue.standardOutput)")
        let finisher = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["hammer", "drain", "--tasks", "4"])
        #expect(finisher.status == 0, "\(finisher.standardError)")
        results.append(finisher)

        // Each acknowledged completion appears once; all of them are in the database.
        let acknowledged = results.flatMap { result in
            result.standardOutput.split(separator: "\n").filter { $0.hasPrefix("completed ") }.map { String($0.dropFirst("completed ".count)) }
        }
        #expect(acknowledged.count == Set(acknowledged).count, "a video was completed twice")
        // Only a completion the victim made just before dying can be missing from its output.
        #expect(acknowledged.count >= count - 16 && acknowledged.count <= count, "\(acknowledged.count) acknowledged")
        let listed = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["videos", "--json", "--limit", "5000"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [[String: Any]])
        let mine = rows.filter { ($0["id"] as? String)?.hasPrefix(prefix) == true }
        #expect(mine.count == count)
        let states = Dictionary(grouping: mine) { $0["state"] as? String ?? "?" }.mapValues(\.count)
        #expect(states == ["completed": count], "none left behind: \(states)")
    }
}
