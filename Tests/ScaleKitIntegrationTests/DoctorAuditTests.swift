import Foundation
import ScaleKit
import ScaleKitRedis
@testable import ScaleKitServices
import ScaleKitTestSupport
import Testing

/// `scalekit doctor --audit`: the judgement of each setting, then the whole
/// command against real servers with a good and a bad setting each.
@Suite struct DoctorAuditTests {
    private static let now = Date(timeIntervalSince1970: 1_800_000_000)

    private static func redis(_ settings: [String: String], skew: TimeInterval = 0) -> [String: AuditFinding.Verdict] {
        let findings = RedisAudit.findings(settings: settings, serverTime: now.addingTimeInterval(skew), before: now, after: now)
        return Dictionary(uniqueKeysWithValues: findings.map { ($0.check, $0.verdict) })
    }

    @Test func redisSettingsAreJudgedByWhatTheyCanLose() {
        let durable = ["maxmemory": "0", "maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "always"]
        #expect(Self.redis(durable) == ["maxmemory-policy": .ok, "persistence": .ok, "clock": .ok])
        #expect(Self.redis(durable.merging(["appendfsync": "everysec"]) { $1 })["persistence"] == .ok)
        #expect(Self.redis(durable.merging(["appendfsync": "no"]) { $1 })["persistence"] == .warning)
        #expect(Self.redis(durable.merging(["appendonly": "no", "save": ""]) { $1 })["persistence"] == .warning)
        // Every tracker key has a TTL, so volatile-* evicts them as readily as allkeys-*.
        for policy in ["allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-random"] {
            #expect(Self.redis(durable.merging(["maxmemory": "104857600", "maxmemory-policy": policy]) { $1 })["maxmemory-policy"] == .wrong)
            #expect(Self.redis(durable.merging(["maxmemory-policy": policy]) { $1 })["maxmemory-policy"] == .warning)
        }
        // A provider that refuses CONFIG: unknown is a warning, not an outage.
        #expect(Self.redis([:]) == ["maxmemory-policy": .warning, "persistence": .warning, "clock": .ok])
    }

    @Test func clocksAreJudgedAroundTheRoundTrip() {
        #expect(Self.redis([:], skew: 0.5)["clock"] == .ok)
        #expect(Self.redis([:], skew: -5)["clock"] == .warning)
        #expect(Self.redis([:], skew: 3_600)["clock"] == .wrong)
        // A slow round trip widens the margin instead of accusing the server.
        let slow = ClockAudit.finding(component: "x", server: Self.now.addingTimeInterval(2), before: Self.now, after: Self.now.addingTimeInterval(4))
        #expect(slow.verdict == .ok)
    }

    @Test func postgresConnectionBudgetCountsEveryWorkersPool() {
        func verdicts(workers: Int, size: Int = 10, overflow: Int = 20, pids: [String] = ["7", "7"], synchronousCommit: String = "on") -> [String: AuditFinding.Verdict] {
            let reading = PostgresAudit.Reading(
                maxConnections: 100, reservedConnections: 3, synchronousCommit: synchronousCommit, serverTime: Self.now,
                before: Self.now, after: Self.now, backendPIDs: pids)
            let pool = ConnectionPoolConfiguration(size: size, maxOverflow: overflow, timeout: .seconds(30), recycle: .seconds(3600))
            return Dictionary(uniqueKeysWithValues: PostgresAudit.findings(reading, pool: pool, workers: workers).map { ($0.check, $0.verdict) })
        }
        #expect(verdicts(workers: 2) == ["max_connections": .ok, "synchronous_commit": .ok, "clock": .ok, "pooler": .ok])
        #expect(verdicts(workers: 3)["max_connections"] == .warning)  // 90 of 97
        #expect(verdicts(workers: 4)["max_connections"] == .wrong)  // 120 of 97
        #expect(verdicts(workers: 100_000, size: 100_000, overflow: 100_000)["max_connections"] == .wrong)  // no overflow trap
        #expect(verdicts(workers: 1, synchronousCommit: "off")["synchronous_commit"] == .wrong)
        let pooled = verdicts(workers: 50, pids: ["7", "8", "7"])
        #expect(pooled["pooler"] == .warning && pooled["max_connections"] == .ok)
    }

    // MARK: - The command against real servers

    private static func audit(_ environment: [String: String], _ extra: [String] = []) async throws -> (status: Int32, findings: [String: String]) {
        let folder = try TemporaryFolder()
        var environment = environment
        environment["API_TRACKER_FILE"] = folder.path("api.json")
        environment["DATABASE_URL"] = environment["DATABASE_URL"] ?? "sqlite:///\(folder.path("v.sqlite"))"
        let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["doctor", "--audit", "--json"] + extra)
        let report = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let findings = (report?["audit"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) { result, finding in
            result["\(finding["component"] ?? "") \(finding["check"] ?? "")"] = finding["verdict"] as? String
        }
        return (result.status, findings)
    }

    @Test(.enabled(if: ServersScript.isAvailable)) func redisWithAnEvictingPolicyFailsTheAudit() async throws {
        let servers = try await PrivateServers.start(redis: true, postgres: false)
        do {
            let url = try #require(servers.redisURL)
            let client = try RedisClient(url: url)
            try await client.withConnection { connection in
                try await connection.send("CONFIG", "SET", "appendonly", "yes")
                try await connection.send("CONFIG", "SET", "appendfsync", "always")
            }
            let good = try await Self.audit(["REDIS_URL": url])
            #expect(good.status == 0)
            #expect(good.findings["redis maxmemory-policy"] == "ok" && good.findings["redis persistence"] == "ok")
            #expect(good.findings["redis clock"] == "ok" && good.findings["audio AAC encoder"] == "ok")

            try await client.withConnection { connection in
                try await connection.send("CONFIG", "SET", "maxmemory", "104857600")
                try await connection.send("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
                try await connection.send("CONFIG", "SET", "appendonly", "no")
            }
            let bad = try await Self.audit(["REDIS_URL": url])
            #expect(bad.status == 6)
            #expect(bad.findings["redis maxmemory-policy"] == "wrong" && bad.findings["redis persistence"] == "warning")
            await client.shutdown()
        } catch {
            await servers.destroy()
            throw error
        }
        await servers.destroy()
    }

    @Test(.enabled(if: TestServers.postgresEnabled)) func postgresWithoutDurableCommitsOrRoomFailsTheAudit() async throws {
        let url = try TestServers.requireDatabaseURL()
        let good = try await Self.audit(["DATABASE_URL": url])
        #expect(good.status == 0)
        #expect(good.findings["postgresql max_connections"] == "ok" && good.findings["postgresql synchronous_commit"] == "ok")
        #expect(good.findings["postgresql clock"] == "ok" && good.findings["postgresql pooler"] == "ok")

        let unsafe = url + (url.contains("?") ? "&" : "?") + "options=-c%20synchronous_commit%3Doff"
        let bad = try await Self.audit(["DATABASE_URL": unsafe])
        #expect(bad.status == 6 && bad.findings["postgresql synchronous_commit"] == "wrong")

        // 30 connections a worker: 20 workers need 600 of the test server's 297.
        let crowded = try await Self.audit(["DATABASE_URL": url], ["--workers", "20"])
        #expect(crowded.status == 6 && crowded.findings["postgresql max_connections"] == "wrong")
    }

    /// Could not connect is exit 1, distinct from an audit that found something wrong.
    @Test func unreachableServerIsNotAnAuditFinding() async throws {
        let result = try await Self.audit(["REDIS_URL": "redis://127.0.0.1:\(try closedPort())/0"])
        #expect(result.status == 1)
        #expect(result.findings["redis persistence"] == nil)
        #expect(result.findings["audio AAC encoder"] == "ok")
    }

    private func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
