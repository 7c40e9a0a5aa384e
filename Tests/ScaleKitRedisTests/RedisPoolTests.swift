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

    @Test func exhaustedPoolIsATypedErrorAndFailOpenAllows() async throws {
        let client = try RedisClient(
            url: try TestServers.requireRedisURL(), pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .milliseconds(100)))
        let configuration = APITrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("exhausted"))
        let clock = ManualWallClock(start: Date())  // stays in one hour: no window boundary inside the test
        let closed = RedisAPITracker(client: client, configuration: configuration, clock: clock)
        let open = RedisAPITracker(client: client, configuration: configuration, unreachablePolicy: .failOpen, clock: clock)
        try await client.withConnection { _ async throws in
            let error = await #expect(throws: ScaleKitError.self) { try await closed.checkAndCount() }
            #expect(error?.code == .poolExhausted)
            #expect(try await open.checkAndCount().isAllowed)
        }
        #expect(try await closed.usage().hourCount == 0)
        await client.shutdown()
    }
}
