import Foundation
import ScaleKit
@_spi(Benchmarks) import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

/// The API tracker's day and hour follow the Redis server's clock, not the
/// workers': trackers whose clocks disagree by an hour count into one window.
@Suite(.enabled(if: TestServers.redisEnabled))
struct RedisServerTimeTests {
    @Test func trackersWhoseClocksAreAnHourApartCountIntoOneWindow() async throws {
        // The server's real clock decides, and the verdict is about one hour
        // window: a run that crossed the top of an hour is made once more.
        let run = try await CalendarWindows.inOneHour { try await Self.callFromThreeClocks() }
        #expect(run.firstThree == [true, true, true], "hour fast, on time, day behind")
        #expect(!run.fourth.isAllowed && run.fourth.deniedBy == .hour, "the hour limit of 3 must bind across the three clocks: \(run.fourth)")
        for usage in run.usages {
            #expect(usage.hourCount == 3 && usage.dayCount == 3 && usage.totalCalls == 3, "\(usage)")
        }
        // One day key and one hour key, named from the server's clock.
        let hourKeys = run.keys.filter { $0.contains(":hour:") }, dayKeys = run.keys.filter { $0.contains(":day:") }
        #expect(hourKeys.count == 1 && dayKeys.count == 1, "\(run.keys)")
        #expect(hourKeys.first?.hasSuffix(run.serverHour) == true, "\(hourKeys) is not the server's hour \(run.serverHour)")
    }

    /// What trackers whose clocks are an hour fast, on time and a day behind
    /// saw and left in Redis, for ``CalendarWindows/inOneHour(now:_:)``.
    private struct ThreeClocks {
        /// Whether the first call of each was allowed.
        var firstThree: [Bool]
        /// A fourth call, from the tracker an hour fast.
        var fourth: APICallDecision
        /// Each tracker's usage afterwards.
        var usages: [APIUsage]
        /// Every key of the run's prefix, sorted.
        var keys: [String]
        /// The server's hour when the keys were read.
        var serverHour: String
    }

    /// One call from each of the three trackers and a fourth from the one an
    /// hour fast, with an hourly limit of 3, under a key prefix of its own.
    private static func callFromThreeClocks() async throws -> ThreeClocks {
        let client = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix("server-time")
        let configuration = APITrackerConfiguration(limits: APILimits(daily: 100, hourly: 3), keyPrefix: prefix)
        let now = Date()
        let onTime = RedisAPITracker(client: client, configuration: configuration, clock: ManualWallClock(start: now))
        let hourFast = RedisAPITracker(client: client, configuration: configuration, clock: ManualWallClock(start: now.addingTimeInterval(3600)))
        let dayBehind = RedisAPITracker(client: client, configuration: configuration, clock: ManualWallClock(start: now.addingTimeInterval(-86_400)))

        var firstThree: [Bool] = []
        for tracker in [hourFast, onTime, dayBehind] { firstThree.append(try await tracker.checkAndCount().isAllowed) }
        let fourth = try await hourFast.checkAndCount()
        var usages: [APIUsage] = []
        for tracker in [onTime, hourFast, dayBehind] { usages.append(try await tracker.usage()) }
        let keys = try await TestRedis.keysWithTTL(matching: "{\(prefix)}*").keys.sorted()
        let serverHour = QuotaCalendarWindow(.hour, containing: Date(), timeZone: .utc).name
        return ThreeClocks(firstThree: firstThree, fourth: fourth, usages: usages, keys: keys, serverHour: serverHour)
    }

    /// With the tracker's clock as the source (tests with a manual clock),
    /// the tracker's clock names the windows, as before.
    @Test func aTrackerClockSourceKeepsItsOwnWindows() async throws {
        let client = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix("tracker-time")
        let clock = ManualWallClock(start: Date(timeIntervalSince1970: 1_767_225_600))  // 2026-01-01 00:00 UTC
        let tracker = RedisAPITracker(
            client: client, configuration: APITrackerConfiguration(limits: APILimits(daily: 100, hourly: 3), keyPrefix: prefix),
            clock: clock, timeSource: .trackerClock)
        #expect(try await tracker.checkAndCount().isAllowed)
        let keys = try await TestRedis.keysWithTTL(matching: "{\(prefix)}*").keys
        #expect(keys.contains { $0.hasSuffix(":hour:2026-01-01-00") }, "\(keys.sorted())")
    }
}
