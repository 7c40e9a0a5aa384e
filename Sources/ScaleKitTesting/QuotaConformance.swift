public import ScaleKit
import Foundation

/// The contract of named quotas (``/ScaleKit/APITracking/checkAndCount(_:)`` and the
/// calls around it), checked against any backend with a manual clock.
///
/// ```swift
/// @Test func quotas() async throws {
///     try await QuotaConformance.run { quotas, clock in
///         InMemoryAPITracker(configuration: APITrackerConfiguration(extraQuotas: quotas), clock: clock)
///     }
/// }
/// ```
/// The factory must return a fresh tracker with no counts that knows the
/// given quotas besides the default one and reads time from the clock (it
/// starts at a day boundary, 2026-01-01T00:00:00Z). Covers windows
/// (calendar and rolling), keys, weights, refunds, reservations and
/// reconciliation; every failed check is reported in one ``ConformanceFailures``.
public enum QuotaConformance {
    /// Builds a fresh tracker with no counts that knows the given quotas besides
    /// the default one and reads time from the given clock.
    public typealias Factory = @Sendable ([Quota], ManualWallClock) async throws -> any APITracking

    /// The quota most checks use: 5 a second overall, 3 an hour per key, 10 a day overall.
    public static let media = Quota("media", limits: [
        QuotaLimit(5, per: .calendar(.second)),
        QuotaLimit(3, per: .calendar(.hour), perKey: true),
        QuotaLimit(10, per: .calendar(.day)),
    ])

    /// Runs every check of the quota contract against trackers from `make`.
    ///
    /// - Throws: ``ConformanceFailures`` listing every check that failed, or
    ///   what `make` throws.
    public static func run(_ make: Factory) async throws {
        var runner = CheckRunner()
        await runner.run("all limits or none") { try await allOrNothing(make) }
        await runner.run("keys are counted apart") { try await keysApart(make) }
        await runner.run("weighted calls") { try await weighted(make) }
        await runner.run("bad input is a typed error") { try await badInput(make) }
        await runner.run("calendar windows") { try await calendarWindows(make) }
        await runner.run("rolling window holds across a boundary") { try await rollingBoundary(make) }
        await runner.run("rolling retryAt is when the call fits") { try await rollingRetry(make) }
        await runner.run("refunds happen once") { try await refundsOnce(make) }
        await runner.run("reservations expire") { try await reservations(make) }
        await runner.run("reconciliation") { try await reconciliation(make) }
        await runner.run("limits hold under 100 concurrent keyed callers") { try await concurrentKeyed(make) }
        await runner.run("the default quota is the seed's") { try await defaultQuota(make) }
        try runner.finish()
    }

    static func allOrNothing(_ make: Factory) async throws {
        let check = "all limits or none"
        let tracker = try await make([media], ManualWallClock())
        for call in 1...3 {
            let decision = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "acme"))
            try expect(decision.isAllowed && decision.receipt != nil, check, "call \(call) should be allowed: \(decision)")
        }
        let denied = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "acme"))
        try expect(!denied.isAllowed && denied.deniedBy == "hour-per-key" && denied.receipt == nil, check, "4th call denied by hour-per-key: \(denied)")
        try expect(denied.usage.limit("second")?.used == 3 && denied.usage.limit("day")?.used == 3, check, "a denied call is counted nowhere: \(denied.usage)")
        try expect(denied.retryAt == Date(timeIntervalSince1970: 1_767_225_600 + 3600), check, "retry at the end of the hour: \(String(describing: denied.retryAt))")
        try expect(denied.usage.limits.map(\.remaining) == [2, 0, 7], check, "remaining on every limit: \(denied.usage.limits)")
        let usage = try await tracker.usage(quota: "media", key: "acme")
        try expect(usage.totals.calls == 3 && usage.totals.denied == 1, check, "totals: \(usage.totals)")
    }

    static func keysApart(_ make: Factory) async throws {
        let check = "keys are counted apart"
        let clock = ManualWallClock()
        let tracker = try await make([media], clock)
        for _ in 0..<3 { _ = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "acme")) }
        let other = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "globex"))
        try expect(other.isAllowed && other.usage.limit("hour-per-key")?.used == 1, check, "another key has its own count: \(other.usage)")
        let second = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "initech"))
        try expect(second.isAllowed, check, "5th call this second allowed")
        let sixth = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "initech"))
        try expect(sixth.deniedBy == "second", check, "6th call this second denied by the overall second limit: \(sixth)")
        try expect(sixth.retryAt == clock.now().addingTimeInterval(1), check, "retry at the next second: \(String(describing: sixth.retryAt))")
        clock.advance(by: .seconds(1))
        for index in 0..<5 { _ = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "k\(index)")) }
        let overDay = try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "k9"))
        try expect(overDay.deniedBy == "day" && overDay.usage.limit("day")?.used == 10, check, "11th call today denied by the day: \(overDay)")
        let overall = try await tracker.usage(quota: "media", key: nil)
        try expect(overall.limits.map(\.name) == ["second", "day"], check, "usage without a key shows the overall limits: \(overall.limits)")
    }

    static func weighted(_ make: Factory) async throws {
        let check = "weighted calls"
        let characters = Quota("characters", limits: [QuotaLimit(10, per: .calendar(.minute))])
        let tracker = try await make([characters], ManualWallClock())
        for cost in [4, 4] {
            try expect(try await tracker.checkAndCount(QuotaRequest(quota: "characters", cost: cost)).isAllowed, check, "cost \(cost) fits")
        }
        let tooMuch = try await tracker.checkAndCount(QuotaRequest(quota: "characters", cost: 3))
        try expect(!tooMuch.isAllowed && tooMuch.usage.limit("minute")?.used == 8, check, "3 more do not fit in 2: \(tooMuch)")
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "characters", cost: 2)).isAllowed, check, "2 more fit exactly")
        let never = try await tracker.checkAndCount(QuotaRequest(quota: "characters", cost: 11))
        try expect(!never.isAllowed && never.retryAt == nil, check, "a cost above the limit never fits: \(never)")
    }

    static func badInput(_ make: Factory) async throws {
        let check = "bad input is a typed error"
        let tracker = try await make([media], ManualWallClock())
        for cost in [0, -1, Int.max, Int.min] {
            try await expectError(.invalidArgument, check) { try await tracker.checkAndCount(QuotaRequest(quota: "media", key: "acme", cost: cost)) }
        }
        for key in ["", "with space", "{tag}", "a:b", "line\r\n", String(repeating: "k", count: 129), "ünï"] {
            try await expectError(.invalidArgument, check) { try await tracker.checkAndCount(QuotaRequest(quota: "media", key: key)) }
        }
        try await expectError(.invalidArgument, check) { try await tracker.checkAndCount(QuotaRequest(quota: "media")) }
        for name in ["nope", "", "{x}", "lua]] redis.call('FLUSHALL') --[["] {
            try await expectError(.invalidArgument, check) { try await tracker.checkAndCount(QuotaRequest(quota: name)) }
        }
        try await expectError(.invalidArgument, check) { try await tracker.reconcile(quota: "media", limit: "nope", key: "acme", remaining: 1) }
        try await expectError(.invalidArgument, check) { try await tracker.reconcile(quota: "media", limit: "day", key: "acme", remaining: -1) }
        try await expectError(.invalidArgument, check) { try await tracker.refund(try QuotaReceipt(token: "q1.garbage")) }
        let usage = try await tracker.usage(quota: "media", key: "acme")
        try expect(usage.limits.allSatisfy { $0.used == 0 } && usage.totals.calls == 0 && usage.totals.denied == 0, check, "bad input counts nothing: \(usage)")
    }

    static func calendarWindows(_ make: Factory) async throws {
        let check = "calendar windows"
        let clock = ManualWallClock()
        let start = clock.now()
        let monthly = Quota("monthly", limits: [
            QuotaLimit(2, per: .calendar(.month)), QuotaLimit(1, per: .calendar(.minute)),
            QuotaLimit(5, per: .calendar(.day, timeZone: TimeZone(identifier: "America/New_York")!), name: "day-ny"),
        ])
        let tracker = try await make([monthly], clock)
        let first = try await tracker.checkAndCount(QuotaRequest(quota: "monthly"))
        try expect(first.isAllowed, check, "first call allowed: \(first)")
        try expect(first.usage.limit("month")?.resetsAt == Date(timeIntervalSince1970: 1_769_904_000), check, "the month ends on February 1st: \(first.usage)")
        try expect(first.usage.limit("day-ny")?.resetsAt == start.addingTimeInterval(5 * 3600), check, "a New York day ends at 05:00 UTC: \(first.usage)")
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "monthly")).deniedBy == "minute", check, "one a minute")
        clock.advance(by: .seconds(59))
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "monthly")).deniedBy == "minute", check, "still the same minute")
        clock.advance(by: .seconds(1))
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "monthly")).isAllowed, check, "the next minute starts at 0")
        clock.advance(by: .seconds(60))
        let month = try await tracker.checkAndCount(QuotaRequest(quota: "monthly"))
        try expect(month.deniedBy == "month" && month.retryAt == Date(timeIntervalSince1970: 1_769_904_000), check, "the month denies until February: \(month)")
        clock.set(Date(timeIntervalSince1970: 1_769_904_000))
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "monthly")).isAllowed, check, "a new month starts at 0")
    }

    static func rollingBoundary(_ make: Factory) async throws {
        let check = "rolling window holds across a boundary"
        let clock = ManualWallClock()
        let rolling = Quota("rolling", limits: [QuotaLimit(10, per: .rolling(.seconds(60)))])
        let tracker = try await make([rolling], clock)
        // A burst just before a calendar minute ends, and one right after: a
        // fixed window would let 20 through in two seconds.
        clock.advance(by: .milliseconds(59_500))
        var allowed: [Date] = []
        for _ in 0..<15 where try await tracker.checkAndCount(QuotaRequest(quota: "rolling")).isAllowed { allowed.append(clock.now()) }
        clock.advance(by: .seconds(1))
        for _ in 0..<15 where try await tracker.checkAndCount(QuotaRequest(quota: "rolling")).isAllowed { allowed.append(clock.now()) }
        try expect(allowed.count == 10, check, "a burst across the minute boundary lets 10 through, not \(allowed.count)")
        // Then a steady stream of attempts for three minutes.
        for _ in 0..<720 {
            clock.advance(by: .milliseconds(250))
            if try await tracker.checkAndCount(QuotaRequest(quota: "rolling")).isAllowed { allowed.append(clock.now()) }
        }
        for (index, end) in allowed.enumerated() {
            let inWindow = allowed[...index].filter { end.timeIntervalSince($0) < 60 }.count
            try expect(inWindow <= 10, check, "\(inWindow) calls in the 60 s ending at \(end)")
        }
        try expect(allowed.count >= 30, check, "the rolling window keeps letting calls through: \(allowed.count)")
    }

    static func rollingRetry(_ make: Factory) async throws {
        let check = "rolling retryAt is when the call fits"
        let clock = ManualWallClock()
        let rolling = Quota("per-second", limits: [QuotaLimit(4, per: .rolling(.seconds(1)))])
        let tracker = try await make([rolling], clock)
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "per-second", cost: 3)).isAllowed, check, "3 of 4")
        clock.advance(by: .milliseconds(400))
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "per-second", cost: 1)).isAllowed, check, "4 of 4")
        let denied = try await tracker.checkAndCount(QuotaRequest(quota: "per-second", cost: 2))
        guard let retryAt = denied.retryAt, !denied.isAllowed else { throw ConformanceFailure(check: check, message: "expected a denial with retryAt: \(denied)") }
        let start = Date(timeIntervalSince1970: 1_767_225_600)
        try expect(retryAt > start.addingTimeInterval(1) && retryAt <= start.addingTimeInterval(1 + 1.0 / 60 + 0.001), check, "the first 3 leave after 1 s plus at most a bucket: \(retryAt)")
        clock.set(retryAt.addingTimeInterval(-0.002))
        try expect(!(try await tracker.checkAndCount(QuotaRequest(quota: "per-second", cost: 2)).isAllowed), check, "just before retryAt it does not fit")
        clock.set(retryAt)
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "per-second", cost: 2)).isAllowed, check, "at retryAt it fits")
    }

    static func refundsOnce(_ make: Factory) async throws {
        let check = "refunds happen once"
        let clock = ManualWallClock()
        let rolling = Quota("tts", limits: [QuotaLimit(10, per: .calendar(.day)), QuotaLimit(10, per: .rolling(.seconds(60)), perKey: true)])
        let tracker = try await make([rolling], clock)
        let decision = try await tracker.checkAndCount(QuotaRequest(quota: "tts", key: "acme", cost: 6))
        guard let receipt = decision.receipt else { throw ConformanceFailure(check: check, message: "no receipt: \(decision)") }
        clock.advance(by: .seconds(5))
        let token = try QuotaReceipt(token: receipt.token)
        try expect(try await tracker.refund(token) == .settled, check, "the first refund gives back")
        let usage = try await tracker.usage(quota: "tts", key: "acme")
        try expect(usage.limits.map(\.used) == [0, 0] && usage.totals.refunds == 1, check, "units back on every limit: \(usage)")
        try expect(try await tracker.refund(receipt) == .alreadySettled, check, "the second refund changes nothing")
        try expect(try await tracker.usage(quota: "tts", key: "acme").limits.map(\.used) == [0, 0], check, "still zero after a second refund")
        let later = try await tracker.checkAndCount(QuotaRequest(quota: "tts", key: "acme", cost: 10))
        try expect(later.isAllowed, check, "refunded units can be used again: \(later)")
        clock.advance(by: .seconds(3 * 86_400))
        try expect(try await tracker.refund(later.receipt!) == .expired, check, "a refund after every window ended is expired")
        let forged = QuotaReceipt(quota: "tts", key: "acme", cost: 1_000, calendarAt: clock.now().quotaTestMilliseconds, rollingAt: clock.now().quotaTestMilliseconds)
        _ = try await tracker.checkAndCount(QuotaRequest(quota: "tts", key: "acme", cost: 2))
        _ = try await tracker.refund(forged)
        try expect(try await tracker.usage(quota: "tts", key: "acme").limits.map(\.used) == [0, 0], check, "a refund never takes a count below zero")
    }

    static func reservations(_ make: Factory) async throws {
        let check = "reservations expire"
        let clock = ManualWallClock()
        let quota = Quota("stt", limits: [QuotaLimit(10, per: .calendar(.hour)), QuotaLimit(8, per: .rolling(.seconds(10)))])
        let tracker = try await make([quota], clock)
        let held = try await tracker.reserve(QuotaRequest(quota: "stt", cost: 3), holdFor: .seconds(30))
        guard let heldReceipt = held.receipt else { throw ConformanceFailure(check: check, message: "no reservation: \(held)") }
        try expect(held.usage.limits.map(\.used) == [3, 3], check, "a reservation takes its units: \(held.usage)")
        try expect(try await tracker.confirm(heldReceipt) == .settled, check, "confirm keeps them")
        try expect(try await tracker.confirm(heldReceipt) == .alreadySettled, check, "a second confirm changes nothing")
        let dying = try await tracker.reserve(QuotaRequest(quota: "stt", cost: 4), holdFor: .seconds(5))
        try expect(dying.usage.limit("hour")?.used == 7, check, "7 taken: \(dying.usage)")
        clock.advance(by: .seconds(4))
        try expect(try await tracker.usage(quota: "stt", key: nil).limit("hour")?.used == 7, check, "still held before its expiry")
        clock.advance(by: .seconds(2))
        let after = try await tracker.usage(quota: "stt", key: nil)
        try expect(after.limit("hour")?.used == 3 && after.limit("rolling-10s")?.used == 3, check, "an expired reservation is released by itself: \(after)")
        try expect(try await tracker.confirm(dying.receipt!) == .expired, check, "confirming an expired reservation says so")
        try expect(try await tracker.refund(dying.receipt!) == .alreadySettled, check, "an expired reservation cannot be refunded again")
        let released = try await tracker.reserve(QuotaRequest(quota: "stt", cost: 5), holdFor: .seconds(60))
        try expect(try await tracker.refund(released.receipt!) == .settled, check, "release gives back")
        try expect(try await tracker.usage(quota: "stt", key: nil).limit("hour")?.used == 3, check, "released units are back")
        try await expectError(.invalidArgument, check) { try await tracker.reserve(QuotaRequest(quota: "stt"), holdFor: .zero) }
        let plain = try await tracker.checkAndCount(QuotaRequest(quota: "stt"))
        try await expectError(.invalidArgument, check) { try await tracker.confirm(plain.receipt!) }
    }

    static func reconciliation(_ make: Factory) async throws {
        let check = "reconciliation"
        let clock = ManualWallClock()
        let quota = Quota("downloader", limits: [QuotaLimit(100, per: .calendar(.day)), QuotaLimit(20, per: .rolling(.seconds(60)), perKey: true)])
        let tracker = try await make([quota], clock)
        _ = try await tracker.checkAndCount(QuotaRequest(quota: "downloader", key: "acme"))
        let told = try await tracker.reconcile(quota: "downloader", limit: "day", key: "acme", remaining: 3)
        try expect(told.limit("day")?.used == 97, check, "the provider's remaining is taken: \(told)")
        for call in 1...3 {
            try expect(try await tracker.checkAndCount(QuotaRequest(quota: "downloader", key: "acme")).isAllowed, check, "call \(call) of 3 left")
        }
        try expect(try await tracker.checkAndCount(QuotaRequest(quota: "downloader", key: "acme")).deniedBy == "day", check, "then the day denies")
        let rolling = try await tracker.reconcile(quota: "downloader", limit: "rolling-60s-per-key", key: "acme", remaining: 0)
        try expect(rolling.limit("rolling-60s-per-key")?.used == 20, check, "a rolling limit can be reconciled: \(rolling)")
        let more = try await tracker.reconcile(quota: "downloader", limit: "day", key: nil, remaining: 1_000)
        try expect(more.limit("day")?.used == 0, check, "more left than the limit means none used: \(more)")
    }

    static func concurrentKeyed(_ make: Factory) async throws {
        let check = "limits hold under 100 concurrent keyed callers"
        let quota = Quota("shared", limits: [
            QuotaLimit(1_000, per: .calendar(.second)), QuotaLimit(30, per: .calendar(.hour), perKey: true),
            QuotaLimit(50, per: .calendar(.day)),
        ])
        let tracker = try await make([quota], ManualWallClock())
        let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for index in 0..<100 {
                let key = index % 2 == 0 ? "a" : "b"
                group.addTask { (key, try await tracker.checkAndCount(QuotaRequest(quota: "shared", key: key)).isAllowed) }
            }
            return try await group.reduce(into: [String: Int]()) { counts, result in if result.1 { counts[result.0, default: 0] += 1 } }
        }
        let total = results.values.reduce(0, +)
        try expect(total == 50 && results.values.allSatisfy { $0 <= 30 }, check, "exactly 50 allowed, at most 30 a key: \(results)")
        for key in ["a", "b"] {
            let usage = try await tracker.usage(quota: "shared", key: key)
            try expect(usage.limit("hour-per-key")?.used == results[key] ?? 0 && usage.limit("day")?.used == 50, check, "counts for \(key): \(usage)")
            try expect(usage.totals.calls == 50 && usage.totals.denied == 50, check, "totals: \(usage.totals)")
        }
    }

    static func defaultQuota(_ make: Factory) async throws {
        let check = "the default quota is the seed's"
        let tracker = try await make([], ManualWallClock())
        try expect(tracker.quotas.first?.name == Quota.defaultName, check, "the default quota comes first: \(tracker.quotas.map(\.name))")
        _ = try await tracker.checkAndCount()
        let decision = try await tracker.checkAndCount(QuotaRequest())
        try expect(decision.usage.limits.map(\.name) == ["day", "hour"] && decision.usage.limit("hour")?.used == 2, check, "old and new calls count in one place: \(decision.usage)")
        let old = try await tracker.usage()
        try expect(old.hourCount == 2 && old.dayCount == 2 && old.totalCalls == 2, check, "the old usage sees both: \(old)")
    }
}

extension Date {
    fileprivate var quotaTestMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
}
