import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

@Suite(.enabled(if: TestServers.redisEnabled))
struct RedisPoolTests {
    @Test func concurrentCallersShareAFewConnections() async throws {
        let client = try RedisClient(
            url: try TestServers.requireRedisURL(), pool: ConnectionPoolConfiguration(size: 4, maxOverflow: 0, timeout: TestServers.scaled(.seconds(60))))
        let tracker = RedisAPITracker(
            client: client,
            configuration: APITrackerConfiguration(limits: APILimits(daily: 1000, hourly: 1000), keyPrefix: TestRedis.uniquePrefix("pool")),
            clock: ManualWallClock(start: Date()))  // stays in one hour: no window boundary inside the test
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 { group.addTask { _ = try await tracker.checkAndCount() } }
            try await group.waitForAll()
        }
        let statistics = client.statistics()
        #expect(statistics.created <= 4)
        #expect(try await tracker.usage().hourCount == 64)
        await client.shutdown()
        let error = await #expect(throws: ScaleKitError.self) { try await tracker.checkAndCount() }
        #expect(error?.code == .poolShutDown)
    }

    /// The trackers' calls share the multiplexed connection, so callers that
    /// hold every pooled connection (a long `BLPOP`, a transaction) never stall
    /// them; a further lease fails with a typed error when the pool is exhausted.
    @Test func anExhaustedPoolIsATypedErrorAndDoesNotStallTheTrackers() async throws {
        let client = try RedisClient(
            url: try TestServers.requireRedisURL(), pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .milliseconds(100)))
        let configuration = APITrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("exhausted"))
        let clock = ManualWallClock(start: Date())  // stays in one hour: no window boundary inside the test
        let tracker = RedisAPITracker(client: client, configuration: configuration, clock: clock)
        try await client.withConnection { _ async throws in
            let error = await #expect(throws: ScaleKitError.self) { try await client.ping() }
            #expect(error?.code == .poolExhausted)
            #expect(try await tracker.checkAndCount().isAllowed)
        }
        #expect(try await tracker.usage().hourCount == 1)
        await client.shutdown()
    }
}
