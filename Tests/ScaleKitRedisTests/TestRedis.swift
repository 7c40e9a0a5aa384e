import Foundation
import Logging
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// The redis-server that scripts/with-servers.sh started, if any.
///
/// Suites are enabled by `TestServers.redisEnabled` and get their client from
/// ``client()``, which throws (failing the test) when the server is required but missing.
enum TestRedis {
    static func client() throws -> RedisClient {
        let url = try TestServers.requireRedisURL()
        return try sharedClient ?? RedisClient(url: url)
    }

    private static let sharedClient: RedisClient? = TestServers.redisURL.flatMap {
        // Many suites share this client in parallel on a machine the unit stage
        // saturates: a stall of the whole process for longer than the default
        // 5 s would fail waiting callers, judging the machine and not the pool
        // (RedisPoolTests checks the timeout itself, on clients of its own).
        var pool = RedisClient.defaultPoolConfiguration
        pool.timeout = TestServers.scaled(.seconds(60))
        return try? RedisClient(url: $0, pool: pool)
    }

    /// A fresh prefix, so tests running in parallel on one server never share keys.
    static func uniquePrefix(_ name: String) -> String { "sktest:\(name):\(UUID().uuidString.prefix(8))" }

    /// Every key matching `pattern` with its TTL in milliseconds (-1: none).
    static func keysWithTTL(matching pattern: String) async throws -> [String: Int64] {
        try await client().withConnection { connection in
            var result: [String: Int64] = [:]
            var cursor = "0"
            repeat {
                let reply = try await connection.send("SCAN", RedisArgument(cursor), "MATCH", RedisArgument(pattern), "COUNT", 1000)
                let parts = reply.array ?? []
                cursor = parts.first?.string ?? "0"
                for key in parts.dropFirst().first?.array ?? [] {
                    guard let name = key.string else { continue }
                    result[name] = try await connection.send("PTTL", RedisArgument(name)).integer ?? -2
                }
            } while cursor != "0"
            return result
        }
    }

    /// Moves the server's expiry clock forward by `duration` for every key
    /// matching `pattern`: each TTL shrinks by that much, and a key whose TTL
    /// runs out is deleted, in one script. TTL tests bring expiry about on
    /// purpose this way instead of sleeping and hoping the machine kept up.
    static func advanceExpiry(matching pattern: String, by duration: Duration) async throws {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let script = advanceExpiryScript
        _ = try await client().withConnection { connection in
            try await connection.send("EVAL", RedisArgument(script), 0, RedisArgument(pattern), RedisArgument(Int(milliseconds)))
        }
    }

    /// Shrinks the TTL of every key matching ARGV[1] by ARGV[2] ms, deleting those it runs out.
    static let advanceExpiryScript = """
        local moved = 0
        for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
          local ttl = redis.call('PTTL', key)
          if ttl > 0 then
            if ttl <= tonumber(ARGV[2]) then redis.call('DEL', key) else redis.call('PEXPIRE', key, ttl - tonumber(ARGV[2])) end
            moved = moved + 1
          end
        end
        return moved
        """
}
