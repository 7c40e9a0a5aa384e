import Foundation
import Logging
import ScaleKit
@_spi(Benchmarks) import ScaleKitRedis
import ScaleKitTestSupport
import Testing

@Suite(.enabled(if: TestServers.redisEnabled))
struct RedisErrorCodeTests {
    /// A connection used after `close()` says so, rather than blaming a pool.
    @Test func aClosedConnectionThrowsConnectionClosed() async throws {
        let connection = try await RedisConnection.connect(
            configuration: try RedisConnectionConfiguration(url: try TestServers.requireRedisURL()))
        #expect(try await connection.send("PING") == .status("PONG"))
        await connection.close()
        let error = await #expect(throws: ScaleKitError.self) { try await connection.send("PING") }
        #expect(error?.code == .connectionClosed, "\(String(describing: error))")
    }

    /// A merge whose every attempt loses to another writer is a
    /// `conflict`, not a `timeout`: here one attempt is allowed while another
    /// client rewrites the key without pause.
    @Test func watchContentionThatOutlastsTheAttemptsIsAConflict() async throws {
        let url = try TestServers.requireRedisURL()
        let client = try RedisClient(url: url)
        let prefix = TestRedis.uniquePrefix("merge-conflict")
        let tracker = RedisStatusTracker(
            client: client, configuration: StatusTrackerConfiguration(keyPrefix: prefix),
            clock: .system, logger: Logger(label: "test"), mergeStrategy: .optimisticTransaction(maxAttempts: 1))
        try await tracker.mergeStatus(["step": .number(0)], for: "job", ttl: nil)
        let key = try #require(try await TestRedis.keysWithTTL(matching: "\(prefix)*").keys.first)
        let writer = try RedisClient(url: url)
        let rewriting = Task {
            try await writer.withConnection { connection in
                let stored = try await connection.send("GET", RedisArgument(key)).string ?? "{}"
                while !Task.isCancelled { _ = try await connection.send("SET", RedisArgument(key), RedisArgument(stored)) }
            }
        }
        var conflict: ScaleKitError?
        for step in 0..<2_000 where conflict == nil {
            do { try await tracker.mergeStatus(["step": .number(Double(step))], for: "job", ttl: nil) } catch let error as ScaleKitError {
                conflict = error
            }
        }
        rewriting.cancel()
        _ = await rewriting.result
        #expect(conflict?.code == .conflict, "\(String(describing: conflict))")
        await client.shutdown()
        await writer.shutdown()
    }
}
