import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// The `scalekit` tool configured with `REDIS_CLUSTER_NODES`, as a fleet of
/// workers would be: several processes count into one quota on the shared
/// cluster, and `doctor` shows the masters and slots it found.
@Suite struct RedisClusterToolTests {
    static var nodes: String? { ProcessInfo.processInfo.environment["SCALEKIT_TEST_REDIS_CLUSTER_NODES"] }
    static var enabled: Bool { nodes != nil || TestServers.areRequired }

    private static func requireNodes() throws -> String {
        guard let nodes else { throw TestServers.Missing(description: "SCALEKIT_TEST_REDIS_CLUSTER_NODES is not set: run the tests through scripts/test.sh") }
        return nodes
    }

    /// 4 processes × 500 calls into one quota (its own name, so its keys are
    /// this test's): exactly 2 000 allowed and 2 000 stored.
    @Test(.enabled(if: enabled)) func countsAddUpAcrossProcesses() async throws {
        let nodes = try Self.requireNodes()
        let quota = "cluster\(UUID().uuidString.prefix(8).lowercased())"
        let folder = try TemporaryFolder()
        let environment = [
            "REDIS_CLUSTER_NODES": nodes, "SCALEKIT_QUOTAS": "\(quota)=1000000/day",
            "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
        ]
        let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
            ["hammer", "api", "--quota", quota, "--calls", "500", "--tasks", "4"]
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        #expect(try results.map { try $0.counts()["allowed"] ?? -1 }.reduce(0, +) == 2000)

        let client = try RedisClient(
            cluster: RedisClusterConfiguration(nodes: nodes), configuration: RedisConnectionConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 1)))
        let tracker = RedisAPITracker(client: client, configuration: APITrackerConfiguration(extraQuotas: [try Quota.parseList("\(quota)=1000000/day")[0]]))
        let usage = try await tracker.usage(quota: quota, key: nil)
        #expect(usage.totals.calls == 2000)
        #expect(usage.limits.map(\.used) == [2000])
        await client.shutdown()
    }

    /// `REDIS_WAIT_REPLICAS=1`: on the cluster every master has a replica,
    /// so calls count; on the single server (no replica) the tool refuses the
    /// call with `timeout` rather than report it done.
    @Test(.enabled(if: enabled)) func waitForReplicasFromTheEnvironment() async throws {
        let folder = try TemporaryFolder()
        let quota = "wait\(UUID().uuidString.prefix(8).lowercased())"
        var environment = [
            "REDIS_CLUSTER_NODES": try Self.requireNodes(), "REDIS_WAIT_REPLICAS": "1", "SCALEKIT_QUOTAS": "\(quota)=1000/day",
            "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
        ]
        let counted = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["hammer", "api", "--quota", quota, "--calls", "40", "--tasks", "4"])
        #expect(counted.status == 0, "\(counted.standardError)")
        #expect(try counted.counts()["allowed"] == 40)
        let doctor = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["doctor"])
        #expect(doctor.standardOutput.contains("REDIS_WAIT_REPLICAS"), "\(doctor.standardOutput)")

        environment["REDIS_CLUSTER_NODES"] = nil
        environment["REDIS_URL"] = try TestServers.requireRedisURL()
        let refused = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["acquire", "--quota", quota])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("replicas"), "\(refused.standardError)")
    }

    @Test(.enabled(if: enabled)) func doctorShowsTheMastersAndSlots() async throws {
        let folder = try TemporaryFolder()
        let environment = [
            "REDIS_CLUSTER_NODES": try Self.requireNodes(), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
        ]
        let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["doctor", "--audit", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let cluster = (report?["audit"] as? [[String: Any]] ?? []).first { $0["component"] as? String == "redis" && $0["check"] as? String == "cluster" }
        #expect(cluster?["verdict"] as? String == "ok", "\(result.standardOutput)")
        let detail = cluster?["detail"] as? String ?? ""
        #expect(detail.hasPrefix("3 masters, 16384 of 16384 slots served"), "\(detail)")
        let text = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["doctor"])
        #expect(text.standardOutput.contains("REDIS_CLUSTER_NODES") && text.standardOutput.contains("redis-cluster"), "\(text.standardOutput)")
    }

    @Test func aMalformedNodeListNamesTheVariable() async throws {
        let folder = try TemporaryFolder()
        let result = try await ScaleKitProcesses.runOne(
            environment: ["REDIS_CLUSTER_NODES": "10.0.0.1:7000,:x", "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"],
            arguments: ["usage"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("REDIS_CLUSTER_NODES has entry ':x'"), "\(result.standardError)")
    }
}
