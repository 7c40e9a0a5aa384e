import Foundation
import ScaleKit
@testable import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

/// The trackers on the shared Redis Cluster (3 masters, 3 replicas): the
/// same conformance suites as on one server, with every call routed by slot.
@Suite(.enabled(if: TestRedisCluster.enabled))
struct RedisClusterTests {
    let client: RedisClient

    init() throws { client = try TestRedisCluster.client() }

    @Test func theSlotMapCoversEverySlotWithThreeMasters() async throws {
        let topology = try #require(try await client.clusterTopology())
        #expect(topology.masters.count == 3)
        #expect(topology.coveredSlots == RedisHashSlot.count)
        let seeds = try RedisClusterConfiguration(nodes: TestRedisCluster.requireNodes()).seeds
        #expect(topology.masters.allSatisfy(seeds.contains))
    }

    @Test func apiTrackerConforms() async throws {
        let client = client
        let prefix = TestRedis.uniquePrefix("cluster-api")
        try await APITrackingConformance.run { limits, clock in
            RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: limits, keyPrefix: "\(prefix):\(UUID())"),
                clock: clock, timeSource: .trackerClock)
        }
    }

    /// Real-time key expiry, like RedisConformanceTests.quotasConform: out of the sanitizer stages.
    @Test(.disabled(if: TestServers.sanitizerBuild, "real-time key expiry against multi-minute sanitizer stalls"))
    func quotasConform() async throws {
        let client = client
        let prefix = TestRedis.uniquePrefix("cluster-quota")
        try await QuotaConformance.run { quotas, clock in
            RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(keyPrefix: "\(prefix):\(UUID())", extraQuotas: quotas),
                clock: clock, timeSource: .trackerClock)
        }
    }

    @Test func statusTrackerConforms() async throws {
        let client = client
        let prefix = TestRedis.uniquePrefix("cluster-status")
        try await StatusTrackingConformance.run(
            { clock in
                RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: "\(prefix):\(UUID())"), clock: clock)
            },
            advance: { clock, duration in
                clock.advance(by: duration)
                try await TestRedisCluster.advanceExpiry(client, matching: "\(prefix)*", by: duration)
            })
    }

    /// Status keys have no common hash tag: 60 jobs spread over all three
    /// masters, and each key is stored on the master its slot names.
    @Test func statusesSpreadOverEveryMaster() async throws {
        let prefix = TestRedis.uniquePrefix("cluster-spread")
        let tracker = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: prefix))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for job in 0..<60 { group.addTask { try await tracker.mergeStatus(["n": .number(Double(job))], for: "job-\(job)") } }
            try await group.waitForAll()
        }
        let topology = try #require(try await client.clusterTopology())
        var holders: Set<RedisClusterConfiguration.Node> = []
        for master in topology.masters {
            let node = RedisClient(configuration: RedisConnectionConfiguration(endpoint: .tcp(host: master.host, port: master.port)))
            let keys = try await node.withConnection { try await $0.send("KEYS", RedisArgument("\(prefix)*")) }.array ?? []
            for key in keys.compactMap(\.string) {
                #expect(topology.master(forSlot: RedisHashSlot.of(key)) == master, "\(key) is on \(master)")
                holders.insert(master)
            }
            #expect(keys.count > 0, "no status on \(master)")
            await node.shutdown()
        }
        #expect(holders.count == 3)
        for job in 0..<60 { #expect(try await tracker.status(for: "job-\(job)")?.fields["n"] == .number(Double(job))) }
    }

    /// 16 tasks × 50 calls on one quota: exactly the limit is allowed, and
    /// the stored count equals the allowed decisions.
    @Test func concurrentCallersGetExactlyTheLimit() async throws {
        try await TestRedisCluster.expectExactlyTheLimit(from: client, prefix: "cluster-limit")
    }

    /// A client given only a replica as its seed finds the masters.
    @Test func aReplicaSeedIsEnough() async throws {
        let nodes = try RedisClusterConfiguration(nodes: TestRedisCluster.requireNodes()).seeds
        let topology = try #require(try await client.clusterTopology())
        let replica = try #require(nodes.first { !topology.masters.contains($0) })
        let viaReplica = try TestRedisCluster.client(nodes: replica.description)
        let tracker = RedisStatusTracker(client: viaReplica, configuration: StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("cluster-replica")))
        try await tracker.setStatus(JobStatus(state: .processing, fields: ["ok": .bool(true)]), for: "job", ttl: nil)
        #expect(try await tracker.status(for: "job")?.fields["ok"] == .bool(true))
        await viaReplica.shutdown()
    }

    /// A server that is not in cluster mode is refused with the server's reason.
    @Test func aServerWithoutClusterModeIsRefusedClearly() async throws {
        let url = try TestServers.requireRedisURL()
        let single = try RedisConnectionConfiguration(url: url)
        guard case .tcp(let host, let port) = single.endpoint else { return }
        let client = try RedisClient(
            cluster: RedisClusterConfiguration(seeds: [.init(host: host, port: port)], retryWindow: .zero), configuration: single.withDatabaseZero)
        await #expect {
            try await client.ping()
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.code == .connectionFailed && error?.message.contains("cluster support disabled") == true
        }
        await client.shutdown()
    }
}

extension RedisConnectionConfiguration {
    fileprivate var withDatabaseZero: RedisConnectionConfiguration {
        var copy = self
        copy.database = 0
        return copy
    }
}
