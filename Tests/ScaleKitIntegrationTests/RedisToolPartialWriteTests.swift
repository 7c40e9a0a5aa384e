import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// Through the `scalekit` tool: a failed `acquire` on Redis is not charged.
@Suite(.enabled(if: TestServers.redisEnabled)) struct RedisToolPartialWriteTests {
    /// The tool uses the default key prefix, so this test works in a Redis
    /// database of its own (14) and empties it afterwards.
    @Test func aFailedAcquireIsNotCounted() async throws {
        var components = try #require(URLComponents(string: try TestServers.requireRedisURL()))
        components.path = "/14"
        let url = try #require(components.string)
        let client = try RedisClient(url: url)
        let keys = RedisAPIKeys(keyPrefix: APITrackerConfiguration().keyPrefix)
        _ = try await client.withConnection { try await $0.send("FLUSHDB") }
        _ = try await client.withConnection { try await $0.send("HSET", RedisArgument(keys.stats), "successful_requests", "not a number") }
        let folder = try TemporaryFolder()
        let span = try await CalendarWindows.observe {
            for _ in 0..<3 {
                let result = try await ScaleKitProcesses.runOne(
                    environment: ["REDIS_URL": url, "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"], arguments: ["acquire"])
                #expect(!result.crashed && result.status == 1 && result.standardError.contains("corruptData"), "exit \(result.status) \(result.standardError)")
            }
        }.span
        // The day the acquires ran in, and the next one too if midnight passed meanwhile.
        for dayKey in Set(span.windows.map(keys.day)) {
            let day = try await client.withConnection { try await $0.send("GET", RedisArgument(dayKey)) }
            #expect(day.isNull, "failed acquires were counted in \(dayKey): \(day)")
        }
        _ = try await client.withConnection { try await $0.send("FLUSHDB") }
    }
}
