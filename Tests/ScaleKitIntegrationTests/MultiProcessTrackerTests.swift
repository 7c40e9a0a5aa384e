import Foundation
import ScaleKitTestSupport
import Testing

/// Four OS processes hammer one API tracker, through the file backend (flock)
/// and through Redis (one script per call): no count may be lost or
/// overshot, and statuses merged from several processes lose no field.
@Suite struct MultiProcessTrackerTests {
    enum Backend: String, CaseIterable, Sendable { case file, redis }

    /// A fresh, private place for one test's counters: a temporary file, or a
    /// Redis database of its own (flushed first).
    private func environment(_ backend: Backend, database: Int, folder: TemporaryFolder) async throws -> [String: String] {
        var environment = ["API_TRACKER_FILE": folder.path("api_usage.json"), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"]
        if backend == .redis {
            let base = try TestServers.requireRedisURL()
            let url = base.replacingOccurrences(of: #"/\d+$"#, with: "", options: .regularExpression) + "/\(database)"
            let flush = Process()
            flush.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            flush.arguments = ["redis-cli", "-u", url, "FLUSHDB"]
            flush.standardOutput = FileHandle.nullDevice
            try flush.run()
            let running = ProcessBox(process: flush)
            try await offThePool { running.process.waitUntilExit() }
            environment["REDIS_URL"] = url
        }
        return environment
    }

    /// The limits are out of reach, so every count is exact; only the
    /// current hour (and day) lose the calls made before a boundary that
    /// passed during the run.
    @Test(.enabled(if: TestServers.redisEnabled), arguments: Backend.allCases)
    func countsAddUpAcrossProcesses(backend: Backend) async throws {
        let folder = try TemporaryFolder()
        var environment = try await environment(backend, database: 5, folder: folder)
        environment["RAPIDAPI_DAILY_LIMIT"] = "1000000"
        environment["RAPIDAPI_HOURLY_LIMIT"] = "1000000"
        let ((results, usage), span) = try await CalendarWindows.observe {
            let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
                ["hammer", "api", "--calls", "500", "--tasks", "4"]
            }
            return (results, try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--json"]))
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let allowed = try results.map { try $0.counts()["allowed"] ?? -1 }.reduce(0, +)
        #expect(allowed == 2000)
        let object = try JSONSerialization.jsonObject(with: Data(usage.standardOutput.utf8)) as? [String: Any]
        #expect(object?["totalCalls"] as? Int == 2000)
        #expect(object?["successes"] as? Int == 2000)
        if span.crossedAnHour {
            let hourCount = try #require(object?["hourCount"] as? Int), dayCount = try #require(object?["dayCount"] as? Int)
            #expect(hourCount <= dayCount && dayCount <= 2000, "\(span): hour \(hourCount), day \(dayCount)")
            #expect(span.crossedADay || dayCount == 2000, "\(span): day \(dayCount)")
        } else {
            #expect(object?["hourCount"] as? Int == 2000)
        }
    }

    /// 200 calls against an hourly limit of 20 (and the default daily 100):
    /// exactly 20 in one hour; over two, each hour lets at most 20 through,
    /// and at least one of them sees 100 calls or more and lets its 20 through.
    @Test(.enabled(if: TestServers.redisEnabled), arguments: Backend.allCases)
    func hourlyLimitHoldsAcrossProcesses(backend: Backend) async throws {
        let folder = try TemporaryFolder()
        var environment = try await environment(backend, database: 6, folder: folder)
        environment["RAPIDAPI_HOURLY_LIMIT"] = "20"
        let (results, span) = try await CalendarWindows.observe {
            try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
                ["hammer", "api", "--calls", "50", "--tasks", "5"]
            }
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let counts = try results.map { try $0.counts() }
        let allowed = counts.map { $0["allowed"] ?? 0 }.reduce(0, +), denied = counts.map { $0["denied"] ?? 0 }.reduce(0, +)
        #expect(allowed + denied == 200, "every call was answered once")
        if span.crossedAnHour {
            #expect((20...40).contains(allowed), "\(span): \(allowed) allowed")
        } else {
            #expect(allowed == 20)
            #expect(denied == 180)
        }
    }

    /// 4 processes × 16 tasks against a quota of 3 limits (per second, per
    /// hour per tenant, per day overall): the day binds at exactly 100, no
    /// tenant passes 30, no second lets more than 20 through across all the
    /// processes, no decision ever shows a limit exceeded, and the stored
    /// counts equal the allowed decisions. A call the second refuses waits
    /// for the next second and tries again, so the second binds as often as
    /// the load outruns it without making the day's count depend on speed.
    ///
    /// Over the top of an hour a tenant has two hours of 30, but the day
    /// still binds at exactly 100: had it never refused, the 64 calls of each
    /// tenant would have filled at least one of its hours, 4 × 30 > 100. Over
    /// midnight each day lets at most 100 through and, by the same argument,
    /// at least one of them binds: between 100 and 200 in all.
    func quotaOfThreeLimitsHoldsAcrossProcesses(_ backend: Backend, database: Int) async throws {
        let folder = try TemporaryFolder()
        var environment = try await environment(backend, database: database, folder: folder)
        environment["SCALEKIT_QUOTAS"] = "three=20/second,30/hour/key,100/day"
        let ((results, usages), span) = try await CalendarWindows.observe {
            let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
                ["hammer", "api", "--quota", "three", "--keys", "4", "--calls", "64", "--tasks", "16", "--wait-out", "second"]
            }
            var usages: [ScaleKitProcesses.Result] = []
            for tenant in 0..<4 {
                usages.append(
                    try await ScaleKitProcesses.runOne(
                        environment: environment, arguments: ["usage", "--quota", "three", "--key", "tenant-\(tenant)", "--json"]))
            }
            return (results, usages)
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let counts = try results.map { try $0.counts() }
        func total(_ name: String) -> Int { counts.map { $0[name] ?? 0 }.reduce(0, +) }
        let allowed = total("allowed")
        if span.crossedADay {
            #expect((100...200).contains(allowed) && allowed + total("denied") == 256, "\(span): \(counts)")
        } else {
            #expect(allowed == 100)
            #expect(total("denied") == 156)
        }
        #expect(counts.allSatisfy { $0.keys.allSatisfy { !$0.hasPrefix("overLimit") } }, "\(counts)")
        var perSecond: [String: Int] = [:]
        for processCounts in counts {
            for (name, allowed) in processCounts where name.hasPrefix("allowedIn:second@") { perSecond[name, default: 0] += allowed }
        }
        #expect(perSecond.values.reduce(0, +) == allowed, "every allowed call names its second: \(perSecond)")
        #expect(perSecond.values.allSatisfy { $0 <= 20 }, "a second let more than its 20 through: \(perSecond)")
        #expect(perSecond.count >= 5, "100 calls at 20 a second need at least 5 seconds: \(perSecond)")
        var perKey = 0
        for (tenant, usage) in usages.enumerated() {
            let tenantAllowed = total("allowed:tenant-\(tenant)")
            #expect(tenantAllowed <= (span.crossedAnHour ? 60 : 30), "\(span): tenant-\(tenant) \(tenantAllowed)")
            perKey += tenantAllowed
            let object = try #require(try JSONSerialization.jsonObject(with: Data(usage.standardOutput.utf8)) as? [String: Any], "\(usage.standardError)")
            let limits = try #require(object["limits"] as? [[String: Any]])
            func used(_ limit: String) -> Int? { limits.first { $0["name"] as? String == limit }?["used"] as? Int }
            if span.crossedAnHour {
                // The current windows hold only the calls after the boundary.
                #expect(used("hour-per-key").map { $0 <= tenantAllowed } == true, "\(span): \(limits)")
                #expect(span.crossedADay ? used("day").map { $0 <= 100 } == true : used("day") == 100, "\(span): \(limits)")
            } else {
                #expect(used("hour-per-key") == tenantAllowed)
                #expect(used("day") == 100)
            }
            #expect((object["totals"] as? [String: Any])?["total_requests"] as? Int == allowed)
        }
        #expect(perKey == allowed)
    }

    @Test func quotaOfThreeLimitsHoldsAcrossProcessesOnTheFile() async throws {
        try await quotaOfThreeLimitsHoldsAcrossProcesses(.file, database: 8)
    }

    @Test(.enabled(if: TestServers.redisEnabled))
    func quotaOfThreeLimitsHoldsAcrossProcessesOnRedis() async throws {
        try await quotaOfThreeLimitsHoldsAcrossProcesses(.redis, database: 9)
    }

    @Test(.enabled(if: TestServers.redisEnabled))
    func statusMergesFromProcessesLoseNothing() async throws {
        let folder = try TemporaryFolder()
        let environment = try await environment(.redis, database: 7, folder: folder)
        let id = "job \"\(UUID())\"\r\n"
        let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { index in
            ["hammer", "status", id, "--worker", "p\(index)", "--tasks", "8", "--merges", "5"]
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let status = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["status", "get", id])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any])
        for process in 0..<4 {
            for task in 0..<8 {
                #expect(object["worker_p\(process)_\(task)"] as? Double == 5, "worker_p\(process)_\(task) lost")
            }
        }
    }
}

/// `Process` is safe to wait on from one thread once it runs.
private struct ProcessBox: @unchecked Sendable { let process: Process }
