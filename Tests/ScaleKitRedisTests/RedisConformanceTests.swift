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
        // The suite moves its manual clock across hours and days: the
        // tracker's clock must name the windows (RedisServerTimeTests covers the server's).
        try await APITrackingConformance.run { limits, clock in
            RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: limits, keyPrefix: "\(prefix):\(UUID())"),
                clock: clock, timeSource: .trackerClock)
        }
        try await expectEveryKeyExpires(matching: "{\(prefix)*", permanentSuffix: ":stats")
    }

    /// The quota keys live on the server's real clock (a minute past their
    /// window at least) while these checks move a manual one, so a stall of
    /// over a minute between two calls would expire a count mid-check. Under
    /// a sanitizer, with the whole suite in parallel, such stalls happen; the
    /// unit stage runs this check, the in-memory and file trackers
    /// run the same suite under the sanitizers.
    @Test(.disabled(if: TestServers.sanitizerBuild, "real-time key expiry against multi-minute sanitizer stalls"))
    func quotasConform() async throws {
        let client = client
        let prefix = TestRedis.uniquePrefix("quota-conformance")
        try await QuotaConformance.run { quotas, clock in
            RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(keyPrefix: "\(prefix):\(UUID())", extraQuotas: quotas),
                clock: clock, timeSource: .trackerClock)
        }
        try await expectEveryKeyExpires(matching: "{\(prefix)*", permanentSuffix: ":stats")
    }

    /// With the server's clock, a 3-limit quota is one script and its keys
    /// share the quota's hash tag (one slot). (Real time, like
    /// ``quotasConform()``: out of the sanitizer stages for the same reason.)
    @Test(.disabled(if: TestServers.sanitizerBuild, "real-time key expiry against multi-minute sanitizer stalls"))
    func aQuotaIsOneScriptUnderOneHashTag() async throws {
        let prefix = TestRedis.uniquePrefix("quota-tag")
        let quota = Quota("media", limits: [
            QuotaLimit(5, per: .rolling(.seconds(1))), QuotaLimit(3, per: .calendar(.hour), perKey: true), QuotaLimit(10, per: .calendar(.day)),
        ])
        let tracker = RedisAPITracker(client: client, configuration: APITrackerConfiguration(keyPrefix: prefix, extraQuotas: [quota]))
        let counted = ContinuousClock.now
        let decision = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "acme", cost: 2))
        #expect(decision.isAllowed && decision.usage.limits.map(\.used) == [2, 2, 2])
        // A key listed but gone when its TTL is read (-2) expired in between:
        // the same as a key not listed.
        let ttls = try await TestRedis.keysWithTTL(matching: "{\(prefix):media}*").filter { $0.value != -2 }
        // The rolling count is kept a minute. A saturated machine can stall
        // this test for longer than that between the call and the listing;
        // then it may be gone, and only then.
        let elapsed = (ContinuousClock.now - counted).milliseconds
        for (key, ttl) in ttls where !key.hasSuffix(":stats") { #expect(ttl > 0, "\(key) has no TTL") }
        if let rolling = ttls.first(where: { $0.key.hasSuffix(":rolling-1s") })?.value {
            #expect(ttls.count == 4, "\(ttls)")
            #expect(rolling + elapsed >= 59_000, "a rolling count is kept at least a minute: \(ttls) after \(elapsed) ms")
        } else {
            #expect(ttls.count == 3 && elapsed >= 59_000, "the rolling count is gone after only \(elapsed) ms: \(ttls)")
        }
        #expect(ttls.keys.allSatisfy { $0.hasPrefix("{\(prefix):media}:") })
        #expect(try await tracker.refund(decision.receipt!) == .settled)
        #expect(try await tracker.refund(decision.receipt!) == .alreadySettled)
        #expect(try await tracker.usage(quota: "media", key: "acme").limits.map(\.used) == [0, 0, 0])
    }

    /// Real time on the server: bursts of 15 calls every 100 ms for about
    /// three seconds, the first just before a second boundary, against 10
    /// per rolling second. Whatever the machine's speed, no window of one
    /// second (on the server's clock, as the receipts carry it) holds more than 10.
    @Test func aBurstAtABoundaryNeverPassesARollingLimit() async throws {
        let prefix = TestRedis.uniquePrefix("quota-burst")
        let quota = Quota("burst", limits: [QuotaLimit(10, per: .rolling(.seconds(1))), QuotaLimit(1_000_000, per: .calendar(.second))])
        let tracker = RedisAPITracker(client: client, configuration: APITrackerConfiguration(keyPrefix: prefix, extraQuotas: [quota]))
        let time = try await client.withConnection { try await $0.send("TIME") }
        let microseconds = Int64(time.array?.last?.string ?? "0") ?? 0
        try await Task.sleep(for: .microseconds(max(0, 950_000 - microseconds)))
        var allowed: [Int64] = []
        for _ in 0..<30 {
            let decisions = try await withThrowingTaskGroup(of: QuotaDecision.self) { group in
                for _ in 0..<15 { group.addTask { try await tracker.checkAndCount(QuotaRequest(quota: "burst")) } }
                return try await group.reduce(into: [QuotaDecision]()) { $0.append($1) }
            }
            allowed += decisions.compactMap { $0.receipt?.rollingAt }
            try await Task.sleep(for: .milliseconds(100))
        }
        allowed.sort()
        #expect(allowed.count >= 10)
        for (index, end) in allowed.enumerated() {
            let inWindow = allowed[...index].filter { end - $0 < 1000 }.count
            #expect(inWindow <= 10, "\(inWindow) calls in the second ending at \(end) ms")
        }
        let usage = try await tracker.usage(quota: "burst", key: nil)
        #expect(usage.totals.calls == allowed.count && usage.totals.denied == 450 - allowed.count)
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
            configuration: APITrackerConfiguration(limits: APILimits(daily: 1000, hourly: 20), keyPrefix: TestRedis.uniquePrefix("hundred")),
            clock: ManualWallClock(start: Date()))  // stays in one hour: no window boundary inside the test
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
