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
        // The server's real clock decides: keep the run inside one real hour.
        try await CalendarWindows.awayFromAnHourBoundary()
        let client = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix("server-time")
        let configuration = APITrackerConfiguration(limits: APILimits(daily: 100, hourly: 3), keyPrefix: prefix)
        let now = Date()
        let onTime = RedisAPITracker(client: client, configuration: configuration, clock: ManualWallClock(start: now))
        let hourFast = RedisAPITracker(client: client, configuration: configuration, clock: ManualWallClock(start: now.addingTimeInterval(3600)))
        let dayBehind = RedisAPITracker(client: client, configuration: configuration, clock: ManualWallClock(start: now.addingTimeInterval(-86_400)))

        #expect(try await hourFast.checkAndCount().isAllowed)
        #expect(try await onTime.checkAndCount().isAllowed)
        #expect(try await dayBehind.checkAndCount().isAllowed)
        let refused = try await hourFast.checkAndCount()
        #expect(!refused.isAllowed && refused.deniedBy == .hour, "the hour limit of 3 must bind across the three clocks: \(refused)")
        for tracker in [onTime, hourFast, dayBehind] {
            let usage = try await tracker.usage()
            #expect(usage.hourCount == 3 && usage.dayCount == 3 && usage.totalCalls == 3, "\(usage)")
        }
        // One day key and one hour key, named from the server's clock.
        let keys = try await TestRedis.keysWithTTL(matching: "{\(prefix)}*").keys.sorted()
        let hourKeys = keys.filter { $0.contains(":hour:") }, dayKeys = keys.filter { $0.contains(":day:") }
        #expect(hourKeys.count == 1 && dayKeys.count == 1, "\(keys)")
        let serverHour = QuotaCalendarWindow(.hour, containing: Date(), timeZone: .utc).name
        #expect(hourKeys.first?.hasSuffix(serverHour) == true, "\(hourKeys) is not the server's hour \(serverHour)")
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
