import Foundation
import ScaleKitTestSupport
import Testing

/// The spans that tests on the real clock judge their counts by: a run can
/// rarely be made to cross an hour, so the crossing logic is checked here on
/// fixed instants.
@Suite struct CalendarWindowsTests {
    /// 2026-03-14 00:00 UTC plus `seconds`.
    private static func march14(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_773_446_400 + seconds) }

    @Test func aSpanInsideOneHourCrossesNothing() {
        let span = CalendarWindows.HourSpan(from: Self.march14(10 * 3600), to: Self.march14(11 * 3600 - 0.001))
        #expect(!span.crossedAnHour && !span.crossedADay)
        #expect(span.windows.map(\.hourName) == ["2026-03-14-10"])
        // The top of an hour belongs to the hour it starts.
        let fromTheTop = CalendarWindows.HourSpan(from: Self.march14(11 * 3600), to: Self.march14(11 * 3600 + 0.5))
        #expect(!fromTheTop.crossedAnHour && fromTheTop.windows.map(\.hourName) == ["2026-03-14-11"])
    }

    @Test func theTopOfAnHourIsCrossedOnce() {
        let span = CalendarWindows.HourSpan(from: Self.march14(11 * 3600 - 0.001), to: Self.march14(11 * 3600))
        #expect(span.crossedAnHour && !span.crossedADay)
        #expect(span.windows.map(\.hourName) == ["2026-03-14-10", "2026-03-14-11"])
        #expect(span.windows.map(\.dayName) == ["2026-03-14", "2026-03-14"])
        #expect(span.last.hourName == "2026-03-14-11")
    }

    @Test func midnightCrossesAnHourAndADay() {
        let span = CalendarWindows.HourSpan(from: Self.march14(-1), to: Self.march14(1))
        #expect(span.crossedAnHour && span.crossedADay)
        #expect(span.windows.map(\.hourName) == ["2026-03-13-23", "2026-03-14-00"])
        #expect(span.last.dayName == "2026-03-14")
        // 2027-01-01 00:00 UTC: the year changes too.
        let newYear = Date(timeIntervalSince1970: 1_798_761_600)
        let overNewYear = CalendarWindows.HourSpan(from: newYear.addingTimeInterval(-0.1), to: newYear.addingTimeInterval(0.1))
        #expect(overNewYear.crossedADay && overNewYear.windows.map(\.dayName) == ["2026-12-31", "2027-01-01"])
    }

    @Test func observeReadsTheClockBeforeAndAfter() async throws {
        var clock = [Self.march14(10 * 3600 + 3599), Self.march14(11 * 3600 + 1)]
        var ran = false
        let (result, span) = try await CalendarWindows.observe(now: { clock.removeFirst() }) {
            #expect(clock.count == 1, "the start was read before the scenario ran")
            ran = true
            return 42
        }
        #expect(ran && result == 42 && clock.isEmpty)
        #expect(span.crossedAnHour && span.last.hourName == "2026-03-14-11")
    }

    @Test func inOneHourRunsAgainOnlyAfterACrossing() async throws {
        // Inside one hour: one run.
        var clock = [Self.march14(600), Self.march14(660)]
        var runs = 0
        let once = try await CalendarWindows.inOneHour(now: { clock.removeFirst() }) { runs += 1; return runs }
        #expect(once == 1 && runs == 1)

        // Over the top of an hour: the second run's result.
        clock = [Self.march14(3599), Self.march14(3601), Self.march14(3602), Self.march14(3660)]
        runs = 0
        let again = try await CalendarWindows.inOneHour(now: { clock.removeFirst() }) { runs += 1; return runs }
        #expect(again == 2 && runs == 2 && clock.isEmpty)

        // Crossing on both runs is an error, never a verdict.
        clock = [Self.march14(3599), Self.march14(3601), Self.march14(7199), Self.march14(7201)]
        await #expect(throws: CalendarWindows.CrossedTwice.self) {
            try await CalendarWindows.inOneHour(now: { clock.removeFirst() }) { () }
        }
    }
}
