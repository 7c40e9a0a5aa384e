public import ScaleKit
import Foundation

/// The contract of ``/ScaleKit/APITracking``, checked against any backend.
///
/// ```swift
/// @Test func conforms() async throws {
///     try await APITrackingConformance.run { limits, clock in
///         MyTracker(limits: limits, clock: clock, keyPrefix: "test-\(UUID())")
///     }
/// }
/// ```
/// The factory must return a fresh tracker with no counts, using the given
/// limits and clock (the clock starts at a day boundary). Every failed check
/// is reported in one ``ConformanceFailures`` error.
public enum APITrackingConformance {
    /// Builds a fresh tracker with no counts that enforces the given limits and
    /// reads time from the given clock.
    public typealias Factory = @Sendable (APILimits, ManualWallClock) async throws -> any APITracking

    /// Runs every check of the contract against trackers from `make`.
    ///
    /// - Throws: ``ConformanceFailures`` listing every check that failed, or
    ///   what `make` throws.
    public static func run(_ make: Factory) async throws {
        var runner = CheckRunner()
        await runner.run("counts until the hourly limit") { try await countsUntilHourlyLimit(make) }
        await runner.run("daily limit wins") { try await dailyLimitWins(make) }
        await runner.run("windows reset") { try await windowsReset(make) }
        await runner.run("outcomes are totalled") { try await outcomesAreTotalled(make) }
        await runner.run("usage snapshot") { try await usageSnapshot(make) }
        await runner.run("limit holds under 100 concurrent callers") { try await concurrentCallers(make) }
        await runner.run("zero limits deny everything") { try await zeroLimits(make) }
        try runner.finish()
    }

    static func countsUntilHourlyLimit(_ make: Factory) async throws {
        let check = "counts until the hourly limit"
        let tracker = try await make(APILimits(daily: 100, hourly: 3), ManualWallClock())
        for call in 1...3 {
            let decision = try await tracker.checkAndCount()
            try expect(decision.isAllowed && decision.deniedBy == nil, check, "call \(call) should be allowed: \(decision)")
            try expect(decision.usage.hourCount == call && decision.usage.dayCount == call, check, "counts after call \(call): \(decision.usage)")
        }
        for _ in 0..<2 {
            let denied = try await tracker.checkAndCount()
            try expect(!denied.isAllowed && denied.deniedBy == .hour, check, "4th call should be denied by the hour: \(denied)")
            try expect(denied.usage.hourCount == 3 && denied.usage.dayCount == 3, check, "a denied call must not be counted: \(denied.usage)")
        }
        let usage = try await tracker.usage()
        try expect(usage.denied == 2 && usage.totalCalls == 3, check, "denied 2, total 3 expected: \(usage)")
    }

    static func dailyLimitWins(_ make: Factory) async throws {
        let check = "daily limit wins"
        let clock = ManualWallClock()
        let tracker = try await make(APILimits(daily: 2, hourly: 2), clock)
        _ = try await tracker.checkAndCount()
        _ = try await tracker.checkAndCount()
        let denied = try await tracker.checkAndCount()
        try expect(denied.deniedBy == .day, check, "with both limits reached the day should deny: \(denied)")
        clock.advance(by: .seconds(3600))
        let stillDenied = try await tracker.checkAndCount()
        try expect(stillDenied.deniedBy == .day && stillDenied.usage.hourCount == 0, check, "next hour, the day still denies: \(stillDenied)")
    }

    static func windowsReset(_ make: Factory) async throws {
        let check = "windows reset"
        let clock = ManualWallClock()
        let start = clock.now()
        let tracker = try await make(APILimits(daily: 10, hourly: 2), clock)
        _ = try await tracker.checkAndCount()
        _ = try await tracker.checkAndCount()
        clock.advance(by: .seconds(3599))
        try expect(try await tracker.checkAndCount().deniedBy == .hour, check, "one second before the hour ends the hour limit holds")
        clock.advance(by: .seconds(1))
        let nextHour = try await tracker.checkAndCount()
        try expect(nextHour.isAllowed && nextHour.usage.hourCount == 1 && nextHour.usage.dayCount == 3, check, "a new hour starts at 0: \(nextHour.usage)")
        try expect(nextHour.usage.hourResetsAt == start.addingTimeInterval(7200), check, "hour resets at the next full hour: \(nextHour.usage.hourResetsAt)")
        try expect(nextHour.usage.dayResetsAt == start.addingTimeInterval(86_400), check, "day resets at midnight UTC: \(nextHour.usage.dayResetsAt)")
        clock.set(start.addingTimeInterval(86_400))
        let nextDay = try await tracker.usage()
        try expect(nextDay.dayCount == 0 && nextDay.hourCount == 0, check, "a new day starts at 0: \(nextDay)")
        try expect(nextDay.totalCalls == 3, check, "totals survive windows: \(nextDay)")
    }

    static func outcomesAreTotalled(_ make: Factory) async throws {
        let check = "outcomes are totalled"
        let tracker = try await make(APILimits(daily: 100, hourly: 100), ManualWallClock())
        for index in 0..<5 {
            _ = try await tracker.checkAndCount()
            try await tracker.recordOutcome(index < 3 ? .success : .failure)
        }
        let usage = try await tracker.usage()
        try expect(usage.successes == 3 && usage.failures == 2 && usage.totalCalls == 5, check, "3 successes, 2 failures, 5 calls: \(usage)")
        try expect(usage.hourCount == 5, check, "recording outcomes must not count calls: \(usage)")
    }

    static func usageSnapshot(_ make: Factory) async throws {
        let check = "usage snapshot"
        let tracker = try await make(APILimits(daily: 7, hourly: 5), ManualWallClock())
        let empty = try await tracker.usage()
        try expect(empty.dayCount == 0 && empty.totalCalls == 0 && empty.remaining == 5, check, "a fresh tracker has no counts: \(empty)")
        try expect(empty.limits == APILimits(daily: 7, hourly: 5), check, "limits reported: \(empty.limits)")
        _ = try await tracker.checkAndCount()
        let one = try await tracker.usage()
        try expect(one.remainingToday == 6 && one.remainingThisHour == 4, check, "remaining after one call: \(one)")
    }

    static func concurrentCallers(_ make: Factory) async throws {
        let check = "limit holds under 100 concurrent callers"
        let tracker = try await make(APILimits(daily: 1000, hourly: 20), ManualWallClock())
        let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 { group.addTask { try await tracker.checkAndCount().isAllowed } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try expect(allowed == 20, check, "exactly 20 of 100 concurrent calls allowed, got \(allowed)")
        let usage = try await tracker.usage()
        try expect(usage.hourCount == 20 && usage.dayCount == 20 && usage.denied == 80 && usage.totalCalls == 20, check, "counts: \(usage)")
    }

    static func zeroLimits(_ make: Factory) async throws {
        let check = "zero limits deny everything"
        let tracker = try await make(APILimits(daily: 0, hourly: 0), ManualWallClock())
        let decision = try await tracker.checkAndCount()
        try expect(!decision.isAllowed && decision.usage.dayCount == 0, check, "a zero limit denies: \(decision)")
    }
}
