import Foundation
import ScaleKit
@_spi(Benchmarks) import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

@Suite(.enabled(if: TestServers.redisEnabled))
struct RedisConformanceTests {
    let client: RedisClient

    init() throws { client = try TestRedis.client() }

    @Test func apiTrackerConforms() async throws {
        let client = client
        let prefix = TestRedis.uniquePrefix("api-conformance")
        try await APITrackingConformance.run { limits, clock in
            RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: limits, keyPrefix: "\(prefix):\(UUID())"),
                clock: clock)
        }
        try await expectEveryKeyExpires(matching: "{\(prefix)*", permanentSuffix: ":stats")
    }

    @Test func statusTrackerConforms() async throws {
        let client = client
        let prefix = TestRedis.uniquePrefix("status-conformance")
        try await StatusTrackingConformance.run(
            { clock in
                RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: "\(prefix):\(UUID())"), clock: clock)
            },
            advance: { clock, duration in
                clock.advance(by: duration)
                // Redis expires keys on its own clock: move that clock too.
                try await TestRedis.advanceExpiry(matching: "\(prefix)*", by: duration)
            })
        try await expectEveryKeyExpires(matching: "\(prefix)*", permanentSuffix: nil)
    }

    @Test func hundredConcurrentCallersGetExactlyTheHourlyLimit() async throws {
        let tracker = RedisAPITracker(
            client: client,
            configuration: APITrackerConfiguration(limits: APILimits(daily: 1000, hourly: 20), keyPrefix: TestRedis.uniquePrefix("hundred")))
        let decisions = try await withThrowingTaskGroup(of: APICallDecision.self) { group in
            for _ in 0..<100 { group.addTask { try await tracker.checkAndCount() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.filter(\.isAllowed).count == 20)
        #expect(Set(decisions.filter(\.isAllowed).map(\.usage.hourCount)) == Set(1...20))
        let usage = try await tracker.usage()
        #expect(usage.hourCount == 20 && usage.dayCount == 20 && usage.totalCalls == 20 && usage.denied == 80)
    }

    @Test func thirtyTwoConcurrentMergesLoseNothing() async throws {
        let tracker = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("merge32")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<32 {
                group.addTask { try await tracker.mergeStatus(["field_\(worker)": .string("value \(worker)")], for: "job") }
            }
            try await group.waitForAll()
        }
        let status = try #require(try await tracker.status(for: "job"))
        #expect(status.fields.count == 32)
        #expect((0..<32).allSatisfy { status.fields["field_\($0)"] == .string("value \($0)") })
    }

    @Test func statusKeysKeepTheSeedsNamesAndTTL() async throws {
        let prefix = TestRedis.uniquePrefix("processing_status")
        let tracker = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: prefix))
        try await tracker.setStatus(JobStatus(state: .processing), for: "job 1")
        let ttl = try await TestRedis.keysWithTTL(matching: "\(prefix):job 1")
        #expect(ttl.count == 1 && (ttl["\(prefix):job 1"] ?? 0) > 86_000_000)
        try await tracker.mergeStatus(["progress": 0.5], for: "job 1", ttl: .seconds(60))
        let refreshed = try await TestRedis.keysWithTTL(matching: "\(prefix):job 1")
        #expect((refreshed["\(prefix):job 1"] ?? 0) <= 60_000)
    }

    @Test func numbersAndEmptyArraysSurviveAMerge() async throws {
        // The reason the merge is not a cjson script: cjson would round this number and turn [] into {}.
        let tracker = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("fidelity")))
        try await tracker.setStatus(JobStatus(state: .processing, fields: ["precise": 0.123_456_789_012_345_6, "empty": []]), for: "j")
        let merged = try await tracker.mergeStatus(["big": .number(9_007_199_254_740_992)], for: "j")
        #expect(merged.fields["precise"] == .number(0.123_456_789_012_345_6))
        #expect(merged.fields["empty"] == .array([]))
        #expect(merged.fields["big"] == .number(9_007_199_254_740_992))
    }

    private func expectEveryKeyExpires(matching pattern: String, permanentSuffix: String?) async throws {
        let keys = try await TestRedis.keysWithTTL(matching: pattern)
        #expect(!keys.isEmpty)
        for (key, ttl) in keys where !(permanentSuffix.map { key.hasSuffix($0) } ?? false) {
            #expect(ttl > 0, "key \(key.debugDescription) has no TTL")
        }
    }
}
