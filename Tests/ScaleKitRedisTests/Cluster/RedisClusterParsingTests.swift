import ScaleKit
@testable import ScaleKitRedis
import Testing

/// The cluster client's pure parts: slots, node lists, redirections, slot maps.
struct RedisClusterParsingTests {
    /// The values `CLUSTER KEYSLOT` gives on redis-server 7.0.
    @Test func slotsMatchRedis() {
        #expect(RedisHashSlot.of("foo") == 12_182)
        #expect(RedisHashSlot.of("123456789") == 12_739)  // CRC16/XMODEM check value 0x31C3
        #expect(RedisHashSlot.of("{user1000}.following") == 3_443)
        #expect(RedisHashSlot.of("{user1000}.following") == RedisHashSlot.of("{user1000}.followers"))
        #expect(RedisHashSlot.of("{api_tracker}:stats") == 14_928)
        #expect(RedisHashSlot.of("{}x") == 10_595)  // an empty tag hashes the whole key
        #expect(RedisHashSlot.of("a{}b{c}") == 7_353)  // only the first { … } counts
        #expect(RedisHashSlot.of("") == 0)
    }

    @Test func nodeListsAreRead() throws {
        let cluster = try RedisClusterConfiguration(nodes: "10.0.0.5:7000, cache-2.internal:7001,[::1]:7002,redis")
        #expect(
            cluster.seeds == [
                .init(host: "10.0.0.5", port: 7000), .init(host: "cache-2.internal", port: 7001), .init(host: "::1", port: 7002),
                .init(host: "redis", port: 6379),
            ])
        #expect(cluster.description == "10.0.0.5:7000,cache-2.internal:7001,[::1]:7002,redis:6379")
    }

    @Test(arguments: ["", "a:1,,b:2", "host:0", "host:65536", "host:x", "::1:7000", "[::1", "[::1]x", "bad host:1", "h:1\r\nX: y"])
    func malformedNodeListsNameTheVariable(_ text: String) {
        #expect {
            try RedisClusterConfiguration(nodes: text, variable: "REDIS_CLUSTER_NODES")
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.code == .invalidConfiguration && error?.message.hasPrefix("REDIS_CLUSTER_NODES has entry") == true
                && error?.message.contains("\r") == false
        }
    }

    @Test func redirectionsAreRead() {
        let here = RedisClusterConfiguration.Node(host: "10.0.0.9", port: 7000)
        #expect(
            RedisRedirect(RedisErrorReply(message: "MOVED 3999 127.0.0.1:6381"), answeredBy: here)
                == RedisRedirect(kind: .moved, slot: 3999, node: .init(host: "127.0.0.1", port: 6381)))
        #expect(RedisRedirect(RedisErrorReply(message: "ASK 1 :6380"), answeredBy: here)?.node == .init(host: "10.0.0.9", port: 6380))
        #expect(RedisRedirect(RedisErrorReply(message: "ASK 1 ::1:6380"), answeredBy: here)?.node == .init(host: "::1", port: 6380))
        #expect(RedisRedirect(RedisErrorReply(message: "MOVED 16384 h:1"), answeredBy: here) == nil)
        #expect(RedisRedirect(RedisErrorReply(message: "ERR MOVED 1 h:1"), answeredBy: here) == nil)
        // A thrown error reply is read back the same way.
        let thrown = RedisErrorReply(message: "MOVED 5 h:7").scaleKitError
        #expect(RedisRedirect(thrown, answeredBy: here)?.node == .init(host: "h", port: 7))
        #expect(RedisRedirect(ScaleKitError(.serverError, "MOVED 5 h:7"), answeredBy: here) == nil)
    }

    @Test func slotMapsAreRead() throws {
        let reply = RedisValue.array([
            .array([.integer(0), .integer(5460), .array([.bulkString(Array("10.0.0.1".utf8)), .integer(7000), .bulkString([])])]),
            .array([.integer(5461), .integer(16383), .array([.bulkString([]), .integer(7001)]), .array([.bulkString(Array("r".utf8)), .integer(1)])]),
        ])
        let topology = try RedisClusterTopology(slotsReply: reply, answeredBy: .init(host: "seed", port: 1))
        #expect(topology.master(forSlot: 0) == .init(host: "10.0.0.1", port: 7000))
        #expect(topology.master(forSlot: 5461) == .init(host: "seed", port: 7001))
        #expect(topology.coveredSlots == 16_384)
        #expect(topology.slotRanges.map(\.ranges) == [[0...5460], [5461...16383]])
        #expect(throws: ScaleKitError.self) {
            try RedisClusterTopology(slotsReply: .array([.array([.integer(5), .integer(3), .array([])])]), answeredBy: .init(host: "s", port: 1))
        }
        #expect(throws: ScaleKitError.self) { try RedisClusterTopology(slotsReply: .status("OK"), answeredBy: .init(host: "s", port: 1)) }
    }

    @Test func aClusterHasOnlyDatabaseZero() {
        #expect(throws: ScaleKitError.self) {
            try RedisClient(
                cluster: RedisClusterConfiguration(seeds: [.init(host: "h", port: 1)]),
                configuration: RedisConnectionConfiguration(endpoint: .tcp(host: "h", port: 1), database: 2))
        }
        #expect(throws: ScaleKitError.self) {
            try RedisClient(cluster: RedisClusterConfiguration(seeds: []), configuration: RedisConnectionConfiguration(endpoint: .tcp(host: "h", port: 1)))
        }
    }
}
