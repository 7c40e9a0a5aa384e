import Foundation
import ScaleKit
@testable import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

/// Cluster and TLS together: the test script's second cluster (3 masters)
/// speaks TLS only, on client connections, the bus and replication alike.
/// Every node's connections, pooled and multiplexed, take the client's TLS
/// settings, so routing, redirects and the trackers work as on plain text.
@Suite(.enabled(if: TestRedisTLSCluster.enabled))
struct RedisClusterTLSTests {
    @Test func theTrackersWorkOnAClusterOverTLS() async throws {
        let client = try TestRedisTLSCluster.client()
        let topology = try #require(try await client.clusterTopology())
        #expect(topology.masters.count == 3 && topology.coveredSlots == RedisHashSlot.count)

        // 16 tasks × 50 checks against an hourly limit of 500: exactly 500 allowed.
        try await TestRedisCluster.expectExactlyTheLimit(from: client, prefix: "tls-cluster")

        // Statuses of 30 jobs land on all three masters; 8 tasks merge into each.
        let statuses = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("tls-cluster-status")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for job in 0..<30 { try await statuses.mergeStatus(["t\(task)": true], for: "job-\(job)", ttl: nil) }
                }
            }
            try await group.waitForAll()
        }
        for job in 0..<30 {
            let status = try #require(try await statuses.status(for: "job-\(job)"))
            #expect((0..<8).allSatisfy { status.fields["t\($0)"] == true }, "job-\(job): \(status.fields)")
        }
        await client.shutdown()
    }

    /// The same cluster with the wrong CA: refused with the certificate error, not a routing one.
    @Test func aWrongCAIsRefusedOnTheCluster() async throws {
        let client = try TestRedisTLSCluster.client(ca: TestRedisTLSCluster.value("TLS_WRONG_CA"))
        let error = await #expect(throws: ScaleKitError.self) { try await client.clusterTopology() }
        #expect(error?.nativeCode == "TLS_CERTIFICATE", "\(String(describing: error))")
        await client.shutdown()
    }
}

enum TestRedisTLSCluster {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var enabled: Bool { environment["SCALEKIT_TEST_REDIS_TLS_CLUSTER_NODES"] != nil || TestServers.areRequired }

    static func value(_ name: String) throws -> String {
        guard let value = environment["SCALEKIT_TEST_REDIS_\(name)"] else {
            throw TestServers.Missing(description: "SCALEKIT_TEST_REDIS_\(name) is not set: run the tests through scripts/test.sh")
        }
        return value
    }

    /// A client of the TLS cluster: `rediss://` settings with the test CA, the nodes as seeds.
    static func client(ca: String? = nil) throws -> RedisClient {
        var cluster = try RedisClusterConfiguration(nodes: value("TLS_CLUSTER_NODES"))
        cluster.retryWindow = TestServers.scaled(.seconds(15))
        var configuration = RedisConnectionConfiguration(
            endpoint: .tcp(host: cluster.seeds[0].host, port: cluster.seeds[0].port), connectTimeout: TestServers.scaled(.seconds(5)))
        configuration.tls = .init(caFile: try ca ?? value("TLS_CA"))
        var pool = RedisClient.defaultPoolConfiguration
        pool.timeout = TestServers.scaled(.seconds(60))
        return try RedisClient(cluster: cluster, configuration: configuration, pool: pool)
    }
}
