public import Foundation
public import ScaleKit

/// For tests whose calls count into the seed's UTC calendar windows on the
/// real clock: the `scalekit` tool in other processes cannot be handed a
/// manual clock, and Redis names its windows from its own `TIME`. The
/// servers run on this machine, so their clock is the wall clock, and every
/// call such a test makes falls between the wall clock read just before its
/// scenario started and the one just after it ended.
///
/// No test waits for a quiet stretch of the hour (that cost up to five
/// minutes a run); each verdict holds whichever side of a boundary it ran:
///
/// - ``observe(now:_:)`` reports the span a scenario ran in. A scenario that
///   lasts under an hour crosses at most one hour boundary, so a test asserts
///   exactly as before when the span stayed inside one hour, and otherwise
///   what still holds over two windows: totals that no window limits stay
///   exact, a windowed count is at most the calls made, a limit lets through
///   at most twice its count, and a day limit stays exact unless midnight
///   passed too.
/// - ``inOneHour(now:_:)`` runs a scenario of seconds again when it crossed,
///   for a test whose point is a single window (an hour limit refusing a
///   call) and which has no honest two-window version; a second run cannot
///   cross again. The multi-process and crash tests keep their verdicts over
///   two windows instead: a second run would double their time, and a crash
///   does not replay the same way.
public enum CalendarWindows {
    /// The UTC day and hour windows at the start and at the end of a scenario,
    /// with the names the backends give their keys (`2026-11-29-08`).
    public struct HourSpan: Sendable, Hashable, CustomStringConvertible {
        /// The windows containing the scenario's start.
        public var first: APIWindows
        /// The windows containing the scenario's end.
        public var last: APIWindows

        /// The span from `start` to `end`, in UTC windows as every backend names them.
        public init(from start: Date, to end: Date) {
            first = APIWindows(containing: start, timeZone: .utc)
            last = APIWindows(containing: end, timeZone: .utc)
        }

        /// Whether the top of an hour passed: the calls may be split over the
        /// hours of ``first`` and ``last`` (never more, for a span under an hour).
        public var crossedAnHour: Bool { first.hourName != last.hourName }

        /// Whether midnight passed (then an hour passed too): the day's
        /// count may be split over two days as well.
        public var crossedADay: Bool { first.dayName != last.dayName }

        /// The windows the scenario's calls counted into: ``first``, and
        /// ``last`` too when an hour boundary passed.
        public var windows: [APIWindows] { crossedAnHour ? [first, last] : [first] }

        public var description: String { crossedAnHour ? "hours \(first.hourName) to \(last.hourName)" : "hour \(first.hourName)" }
    }

    /// Runs `scenario`, reading the wall clock (`now`) just before and just
    /// after. Include in it every call that counts and every read of a
    /// windowed count, so the span covers the windows they saw.
    public static func observe<T>(
        now: () -> Date = Date.init, _ scenario: () async throws -> T
    ) async throws -> (result: T, span: HourSpan) {
        let start = now()
        let result = try await scenario()
        return (result, HourSpan(from: start, to: now()))
    }

    /// Runs `scenario`, and once more when that run crossed the top of an
    /// hour. The second run starts after that boundary, so it reaches the
    /// next one only if both runs together last an hour: never, for a
    /// scenario of seconds. The scenario must set up fresh state of its own
    /// on each run and only observe, never assert: a run that crossed is
    /// thrown away with everything it saw, and the test asserts on the
    /// result of the run that stayed inside one hour.
    public static func inOneHour<T>(now: () -> Date = Date.init, _ scenario: () async throws -> T) async throws -> T {
        let (result, span) = try await observe(now: now, scenario)
        guard span.crossedAnHour else { return result }
        let (again, secondSpan) = try await observe(now: now, scenario)
        guard !secondSpan.crossedAnHour else {
            throw CrossedTwice(description: "both runs crossed the top of an hour (\(span), then \(secondSpan)): the scenario is too long for inOneHour")
        }
        return again
    }

    /// A scenario passed to ``inOneHour(now:_:)`` crossed an hour boundary on both runs.
    public struct CrossedTwice: Error, CustomStringConvertible {
        /// Both spans.
        public var description: String
    }
}
