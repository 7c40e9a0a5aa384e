import Foundation

/// An ``APITracking`` that keeps its counters in this process's memory.
///
/// For unit tests and single-process tools: atomic across the tasks of one
/// process, invisible to every other process. Never blocks.
public final class InMemoryAPITracker: APITracking {
    private struct Counters {
        var windows: [String: Int] = [:]
        var totalCalls = 0
        var successes = 0
        var failures = 0
        var denied = 0
    }

    public let configuration: APITrackerConfiguration
    private let clock: any WallClock
    private let counters = SanitizerVisibleMutex(Counters())

    public init(configuration: APITrackerConfiguration = APITrackerConfiguration(), clock: any WallClock = .system) {
        self.configuration = configuration
        self.clock = clock
    }

    public func checkAndCount() async throws -> APICallDecision {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        let limits = configuration.limits
        return counters.withLock { counters in
            let day = counters.windows["day:\(windows.dayName)", default: 0]
            let hour = counters.windows["hour:\(windows.hourName)", default: 0]
            let deniedBy: APILimitWindow? =
                day >= limits.daily ? .day : hour >= limits.hourly ? .hour : nil
            if deniedBy == nil {
                counters.windows["day:\(windows.dayName)"] = day + 1
                counters.windows["hour:\(windows.hourName)"] = hour + 1
                counters.totalCalls += 1
            } else {
                counters.denied += 1
            }
            return APICallDecision(
                isAllowed: deniedBy == nil, deniedBy: deniedBy, usage: Self.usage(counters, windows, limits))
        }
    }

    public func recordOutcome(_ outcome: APICallOutcome) async throws {
        counters.withLock { counters in
            switch outcome {
            case .success: counters.successes += 1
            case .failure: counters.failures += 1
            }
        }
    }

    public func usage() async throws -> APIUsage {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        return counters.withLock { Self.usage($0, windows, configuration.limits) }
    }

    private static func usage(_ counters: Counters, _ windows: APIWindows, _ limits: APILimits) -> APIUsage {
        APIUsage(
            dayCount: counters.windows["day:\(windows.dayName)", default: 0],
            hourCount: counters.windows["hour:\(windows.hourName)", default: 0],
            limits: limits, totalCalls: counters.totalCalls, successes: counters.successes,
            failures: counters.failures, denied: counters.denied,
            dayResetsAt: windows.dayEnd, hourResetsAt: windows.hourEnd)
    }
}
