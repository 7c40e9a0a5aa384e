import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

/// The Redis Cluster that scripts/with-servers.sh started (3 masters, 3
/// replicas), and private clusters for tests that kill or reshard one.
enum TestRedisCluster {
    static var nodes: String? { ProcessInfo.processInfo.environment["SCALEKIT_TEST_REDIS_CLUSTER_NODES"] }
    static var enabled: Bool { nodes != nil || TestServers.areRequired }

    static func requireNodes() throws -> String {
        guard let nodes else {
            throw TestServers.Missing(description: "SCALEKIT_TEST_REDIS_CLUSTER_NODES is not set: run the tests through scripts/test.sh")
        }
        return nodes
    }

    /// A client of the cluster at `nodes` (the shared one by default).
    static func client(nodes: String? = nil, retryWindow: Duration = .seconds(15)) throws -> RedisClient {
        var cluster = try RedisClusterConfiguration(nodes: nodes ?? requireNodes())
        cluster.retryWindow = TestServers.scaled(retryWindow)
        var pool = RedisClient.defaultPoolConfiguration
        pool.timeout = TestServers.scaled(.seconds(60))  // as TestRedis's shared client: room for a stalled process
        return try RedisClient(
            cluster: cluster, configuration: RedisConnectionConfiguration(endpoint: .tcp(host: cluster.seeds[0].host, port: cluster.seeds[0].port)),
            pool: pool)
    }

    /// One client per master, for what must run on every node (`KEYS`, expiry moves).
    static func masters(of client: RedisClient) async throws -> [RedisClient] {
        let topology = try #require(try await client.clusterTopology())
        return topology.masters.map { RedisClient(configuration: RedisConnectionConfiguration(endpoint: .tcp(host: $0.host, port: $0.port))) }
    }

    /// As ``TestRedis/advanceExpiry(matching:by:)``, on every master of the cluster.
    static func advanceExpiry(_ client: RedisClient, matching pattern: String, by duration: Duration) async throws {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for master in try await masters(of: client) {
            _ = try await master.withConnection { connection in
                try await connection.send("EVAL", RedisArgument(TestRedis.advanceExpiryScript), 0, RedisArgument(pattern), RedisArgument(Int(milliseconds)))
            }
            await master.shutdown()
        }
    }

    /// Keys matching `pattern` on every master, with their TTL in milliseconds.
    static func keysWithTTL(_ client: RedisClient, matching pattern: String) async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for master in try await masters(of: client) {
            try await master.withConnection { connection in
                for key in try await connection.send("KEYS", RedisArgument(pattern)).array ?? [] {
                    guard let name = key.string else { continue }
                    result[name] = try await connection.send("PTTL", RedisArgument(name)).integer ?? -2
                }
            }
            await master.shutdown()
        }
        return result
    }

    /// 16 tasks × 50 calls against 500 an hour through `client`: exactly 500
    /// are allowed, and the stored counts equal the decisions.
    static func expectExactlyTheLimit(from client: RedisClient, prefix: String) async throws {
        let tracker = RedisAPITracker(
            client: client,
            configuration: APITrackerConfiguration(limits: APILimits(daily: 100_000, hourly: 500), keyPrefix: TestRedis.uniquePrefix(prefix)),
            clock: ManualWallClock(start: Date()), timeSource: .trackerClock)
        let allowed = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var allowed = 0
                    for _ in 0..<50 where try await tracker.checkAndCount().isAllowed { allowed += 1 }
                    return allowed
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(allowed == 500)
        let usage = try await tracker.usage()
        #expect(usage.hourCount == 500 && usage.totalCalls == 500 && usage.denied == 300)
    }
}

/// A Redis Cluster of one test's own (3 masters, 3 replicas, a 2 s node
/// timeout so a killed master fails over quickly), stopped by ``stop()``.
final class PrivateRedisCluster: Sendable {
    let nodes: String
    private let variables: [String: String]
    fileprivate var variablesForScript: [String: String] { variables }

    static func start() async throws -> PrivateRedisCluster {
        var variables = ServersScript.clearedState
        variables["REDIS_CLUSTER_NODE_TIMEOUT"] = "2000"
        let output = try await ServersScript.run(
            """
            start_redis_cluster >/dev/null || { stop_servers; exit 1; }
            printf '%s\\n' "$SERVERS_DIR" "$REDIS_CLUSTER_NODES" "$REDIS_CLUSTER_DIR"
            """, variables: variables)
        let lines = output.split(separator: "\n").map(String.init)
        guard lines.count >= 3 else { throw ServersScript.Failure(description: "unexpected output from servers.sh: \(output)") }
        variables["SERVERS_DIR"] = lines[0]
        variables["REDIS_CLUSTER_DIR"] = lines[2]
        return PrivateRedisCluster(nodes: lines[1], variables: variables)
    }

    private init(nodes: String, variables: [String: String]) {
        self.nodes = nodes
        self.variables = variables
    }

    /// `kill -9` of the node on `port`.
    func crash(port: Int) async throws { _ = try await ServersScript.run("crash_cluster_node \(port)", variables: variables) }

    /// Runs `redis-cli` with `arguments` and returns what it printed.
    func cli(_ arguments: [String]) async throws -> String {
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try await ServersScript.run("redis-cli \(quoted)", variables: variables)
    }

    /// Stops every node and removes their data.
    func stop() async {
        _ = try? await ServersScript.run("stop_servers", variables: variables)
    }
}

extension PrivateRedisCluster {
    /// Starts the node on `port` again (after ``crash(port:)``); it rejoins the cluster from its nodes.conf.
    func restart(port: Int) async throws { _ = try await ServersScript.run("_cluster_node_launch \(port)", variables: variablesForScript) }
}
