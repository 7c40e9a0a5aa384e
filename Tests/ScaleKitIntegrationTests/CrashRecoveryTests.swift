import Foundation
import Glibc
import ScaleKitPostgres
import ScaleKitTestSupport
import Testing

/// Servers and workers that die with kill -9 while several `scalekit hammer`
/// processes keep calling: nothing a backend acknowledged is lost, no claim
/// ever has two owners, the same clients (same processes, same pools) work
/// again after the restart, and their pools end idle.
///
/// Each test starts servers of its own through scripts/servers.sh, so the
/// shared servers other tests use in parallel are never disturbed.
@Suite(.serialized, .enabled(if: ServersScript.isAvailable))
struct CrashRecoveryTests {
    /// Redis runs with `--appendonly yes --appendfsync always`, so a reply is
    /// sent only after the write is on disk: every acknowledged call survives.
    @Test func redisKilledMidLoadKeepsEveryAcknowledgedCall() async throws {
        let servers = try await PrivateServers.start(redis: true, postgres: false, redisAppendFsyncAlways: true)
        let folder = try TemporaryFolder()
        let stopFile = folder.path("stop")
        do {
            let environment = [
                "REDIS_URL": try #require(servers.redisURL), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
                "RAPIDAPI_DAILY_LIMIT": "100000000", "RAPIDAPI_HOURLY_LIMIT": "100000000",
            ]
            let ((reports, stored), span) = try await CalendarWindows.observe {
                let workers = try (0..<3).map { _ in
                    try ScaleKitProcesses.start(
                        environment: environment,
                        arguments: ["hammer", "api", "--keep-going", "--stop-file", stopFile, "--duration-ms", Self.workerDuration, "--tasks", "4"])
                }
                try await waitUntil("calls are being counted") { try await usage(environment)?["totalCalls"] ?? 0 > 50 }
                try await servers.crashRedis()
                try await Task.sleep(for: .milliseconds(500))  // down: calls fail fast and are counted as errors
                try await servers.restartRedis()
                let restarted = try await usage(environment)?["totalCalls"] ?? 0
                try await waitUntil("calls are counted again") { try await usage(environment)?["totalCalls"] ?? 0 > restarted + 200 }
                _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
                let reports = try await finish(workers).map(\.counts)
                return (reports, try #require(try await usage(environment)))
            }

            let sum = { (name: String) in reports.map { $0[name] ?? 0 }.reduce(0, +) }
            #expect(sum("errors") > 0, "the crash was not noticed: \(reports)")
            #expect(sum("allowed") <= stored["totalCalls"]! && stored["totalCalls"]! <= sum("allowed") + sum("errors"), "\(reports) \(stored)")
            #expect(sum("recorded") <= stored["successes"]! && stored["successes"]! <= sum("recorded") + sum("recordErrors"), "\(reports) \(stored)")
            if span.crossedAnHour {
                // The limits are out of reach: the current hour holds only the
                // calls after the boundary, and the day holds them all unless
                // that boundary was midnight.
                #expect(stored["hourCount"]! <= stored["dayCount"]! && stored["dayCount"]! <= stored["totalCalls"]!, "\(span): \(stored)")
                #expect(span.crossedADay || stored["dayCount"] == stored["totalCalls"], "\(span): \(stored)")
            } else {
                #expect(stored["hourCount"] == stored["totalCalls"])
            }
            print("[crash] redis kill -9: \(sum("allowed")) calls acknowledged, \(sum("errors")) failed, \(stored["totalCalls"]!) stored")
            for report in reports { expectRecoveredAndIdle(report, tasks: 4) }
        } catch {
            _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
            await servers.destroy()
            throw error
        }
        await servers.destroy()
    }

    /// PostgreSQL's postmaster and every backend are killed at once while
    /// workers claim and complete videos; the server then runs crash recovery.
    @Test func postgresKilledMidLoadKeepsEveryAcknowledgedClaim() async throws {
        let servers = try await PrivateServers.start(redis: false, postgres: true)
        let folder = try TemporaryFolder()
        let stopFile = folder.path("stop")
        do {
            let environment = ["DATABASE_URL": try #require(servers.databaseURL), "API_TRACKER_FILE": folder.path("api.json")]
            let ids = 3000
            let workers = try (0..<3).map { _ in
                try ScaleKitProcesses.start(
                    environment: environment,
                    arguments: [
                        "hammer", "claims", "--prefix", "crash", "--ids", "\(ids)", "--complete", "--keep-going", "--stop-file", stopFile,
                        "--duration-ms", Self.workerDuration, "--tasks", "4",
                    ])
            }
            try await waitUntil("videos are being claimed") { try await videos(environment).count > 20 }
            try await servers.crashPostgres()
            try await Task.sleep(for: .milliseconds(500))
            try await servers.restartPostgres()
            // Not judged by new rows: the workers may have stored every one of
            // the ids before the crash (a fast machine), and then their claims
            // change nothing. Every claim, won or lost, commits a transaction.
            let databaseURL = try #require(servers.databaseURL)
            let restarted = try await committedTransactions(databaseURL)
            try await waitUntil("videos are claimed again") { try await committedTransactions(databaseURL) > restarted + 200 }
            _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
            let results = try await finish(workers)
            let reports = results.map { $0.counts }

            let rows = Dictionary(uniqueKeysWithValues: try await videos(environment).map { ($0["id"] as! String, $0) })
            var owners: [String: String] = [:]
            var completed = Set<String>()
            for result in results {
                for (id, token) in result.object["wins"] as? [String: String] ?? [:] {
                    #expect(owners[id] == nil, "\(id) was won twice: \(owners[id]!) and \(token)")
                    owners[id] = token
                }
                completed.formUnion(result.object["completedIDs"] as? [String] ?? [])
            }
            let sum = { (name: String) in reports.map { $0[name] ?? 0 }.reduce(0, +) }
            #expect(sum("errors") + sum("completeErrors") > 0, "the crash was not noticed: \(reports)")
            #expect(sum("won") == owners.count)
            // Every acknowledged claim is stored with its token (or was completed
            // by that token); every acknowledged completion is stored.
            for (id, token) in owners {
                let row = rows[id]
                #expect(row != nil, "the acknowledged claim of \(id) was lost")
                if completed.contains(id) {
                    #expect(row?["state"] as? String == "completed", "the acknowledged completion of \(id) was lost: \(String(describing: row))")
                } else if row?["state"] as? String == "processing" {
                    #expect(row?["leaseOwner"] as? String == token, "\(id) has another owner than its acknowledged winner")
                }
                #expect(row?["attempts"] as? Int == 1, "\(id) was claimed more than once: \(String(describing: row))")
            }
            // A claim that failed in the crash may or may not have been applied.
            #expect(owners.count <= rows.count && rows.count <= owners.count + sum("errors"), "\(owners.count) won, \(rows.count) stored")
            for report in reports { expectRecoveredAndIdle(report, tasks: 4) }
            print("[crash] postgres kill -9: \(owners.count) claims and \(completed.count) completions acknowledged, \(sum("errors") + sum("completeErrors")) calls failed, \(rows.count) videos stored")
        } catch {
            _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
            await servers.destroy()
            throw error
        }
        await servers.destroy()
    }

    /// A worker killed with -9 after winning a claim (`hammer claim --hold-ms`)
    /// holds it until its lease runs out (brought about on purpose, by moving
    /// its end into the past); then exactly one of 32 claimers in four
    /// processes takes the video over.
    @Test(arguments: ["sqlite", "postgresql"])
    func crashedWorkersLeaseIsTakenOverByExactlyOne(backend: String) async throws {
        let folder = try TemporaryFolder()
        let sqlitePath = folder.path("v.sqlite")
        var environment = ["API_TRACKER_FILE": folder.path("api.json"), "DATABASE_URL": "sqlite:///\(sqlitePath)"]
        if backend == "postgresql" {
            guard TestServers.postgresEnabled else { return }
            environment["DATABASE_URL"] = try TestServers.requireDatabaseURL()
        }
        let id = "crashed-worker-\(UUID())"
        let worker = try ScaleKitProcesses.start(
            environment: environment, arguments: ["hammer", "claim", id, "--tasks", "1", "--lease", "600", "--hold-ms", "600000"])
        let firstLine = try await worker.firstLine()
        #expect(firstLine == #"{"created":1}"#)
        await worker.kill(SIGKILL)

        // The dead worker's claim is still there, unfinished.
        let held = try #require(try await videos(environment).first { $0["id"] as? String == id })
        #expect(held["state"] as? String == "processing" && held["attempts"] as? Int == 1)

        // The lease ends; then 4 processes × 8 tasks race, each asking for a long lease.
        if backend == "postgresql" {
            try await LeaseExpiry.expirePostgres(url: try TestServers.requireDatabaseURL(), videoID: id)
        } else {
            try await LeaseExpiry.expireSQLite(path: sqlitePath, videoID: id)
        }
        let start = Date().timeIntervalSince1970 + 2
        let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
            ["hammer", "claim", id, "--tasks", "8", "--lease", "600", "--start-at", "\(start)"]
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let counts = try results.map { try $0.counts() }.reduce(into: [String: Int]()) { $0.merge($1, uniquingKeysWith: +) }
        #expect(counts == ["tookOverExpiredLease": 1, "alreadyProcessing": 31])
        let taken = try #require(try await videos(environment).first { $0["id"] as? String == id })
        #expect(taken["state"] as? String == "processing" && taken["attempts"] as? Int == 2 && taken["leaseOwner"] as? String != held["leaseOwner"] as? String)
    }

    // MARK: - Helpers

    private func expectRecoveredAndIdle(_ report: [String: Int], tasks: Int) {
        #expect(report["tasksRecovered"] == tasks, "tasks whose last call failed: \(report)")
        #expect(report["untypedErrors"] == nil, "errors that were not ScaleKitErrors: \(report)")
        #expect(report["pool_checkedOut"] == 0 && report["pool_waiters"] == 0 && report["pool_openingOrClosing"] == 0, "pool not idle: \(report)")
    }

    private struct Finished {
        var counts: [String: Int]
        var object: [String: Any]
    }

    /// Waits for every worker; each must exit 0 and print one JSON report.
    private func finish(_ workers: [ScaleKitProcesses.Running]) async throws -> [Finished] {
        var finished: [Finished] = []
        for worker in workers {
            let result = try await worker.wait()
            #expect(result.status == 0, "\(result.standardError.suffix(2000))")
            let line = result.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            finished.append(Finished(counts: try result.counts(), object: object))
        }
        return finished
    }

    private func usage(_ environment: [String: String]) async throws -> [String: Int]? {
        let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--json"])
        guard result.status == 0 else { return nil }
        return try? result.counts()
    }

    private func videos(_ environment: [String: String]) async throws -> [[String: Any]] {
        let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["videos", "--json", "--limit", "100000"])
        guard result.status == 0 else { return [] }
        return (try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]]) ?? []
    }

    /// Transactions the server has committed in the test's database. The
    /// counters live in shared memory and backends flush them at least once a
    /// second, so the figure only grows while clients keep working.
    private func committedTransactions(_ url: String) async throws -> Int {
        guard let connection = try? await PostgresConnection.connect(url: url) else { return 0 }
        let rows = try? await connection.query(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", name: "committed transactions")
        await connection.close()
        return rows?.first?[0].flatMap { Int($0) } ?? 0
    }

    /// How long the workers keep calling at most: longer than every wait
    /// below, since the stop file ends them (also when the test fails).
    private static var workerDuration: String { String((TestServers.hangBound * 2).components.seconds * 1000) }

    /// Polls `condition`, for up to ``TestServers/hangBound``: processes start
    /// slowly under sanitizers, and the verdict is the condition, not the time.
    private func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + TestServers.hangBound
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ScaleKitProcesses.Failure(description: "timed out waiting until \(what)")
    }
}
