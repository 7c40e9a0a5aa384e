import Dispatch
import Foundation

/// An ``APITracking`` that keeps its counters in a JSON file, safe across
/// the processes of one machine.
///
/// The embedded default when there is no Redis (the seed's development-mode
/// `api_usage.json`, fixed): every operation takes an exclusive `flock` on a
/// sibling lock file (`<path>.lock`), reads the file, changes it, writes a
/// temporary file, `fsync`s it and renames it over the original. A crash
/// never leaves a half-written file, and no two processes interleave.
///
/// A file that exists but cannot be read or decoded is a
/// ``ScaleKitError/Code/corruptData`` error, never a silent reset to zero;
/// the file is left as it is for an operator to inspect.
///
/// Blocking file work runs on a dispatch queue, off Swift's cooperative pool.
public final class FileAPITracker: APITracking {
    /// The counters file, as given. A symbolic link is resolved on first use
    /// and its target is what is locked (`<target>.lock`) and replaced.
    public let path: String
    public let configuration: APITrackerConfiguration
    private let clock: any WallClock
    private let queue = DispatchQueue(label: "scalekit.file-api-tracker")
    /// ``path`` with links resolved, set once on the queue by the first operation.
    private let resolved = SanitizerVisibleMutex<String?>(nil)

    /// - Parameters:
    ///   - path: the counters file; its folder must exist.
    ///   - configuration: the limits and the names of the windows.
    ///   - clock: what decides the current day and hour (tests pass a manual one).
    public init(path: String, configuration: APITrackerConfiguration = APITrackerConfiguration(), clock: any WallClock = .system) {
        self.path = path
        self.configuration = configuration
        self.clock = clock
    }

    /// Checks the limits and counts the call under the file lock.
    ///
    /// Traced as `api_tracker.check_and_count` (`scalekit.backend=file`),
    /// with the decision and the limit that denied.
    public func checkAndCount() async throws -> APICallDecision {
        try await ScaleKitSpan.run("api_tracker.check_and_count", kind: .internal) { span in
            span.set("scalekit.backend", "file")
            let decision = try await countCall()
            span.set("scalekit.api.allowed", decision.isAllowed)
            if let deniedBy = decision.deniedBy { span.set("scalekit.api.denied_by", deniedBy.rawValue) }
            return decision
        }
    }

    private func countCall() async throws -> APICallDecision {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        let limits = configuration.limits
        return try await update(windows) { (file: inout FileCounters) throws(ScaleKitError) -> APICallDecision in
            let day = file.windows[FileCounters.dayKey(windows), default: 0]
            let hour = file.windows[FileCounters.hourKey(windows), default: 0]
            let deniedBy: APILimitWindow? = day >= limits.daily ? .day : hour >= limits.hourly ? .hour : nil
            if deniedBy == nil {
                file.windows[FileCounters.dayKey(windows)] = try FileCounters.increment(day, "the day counter")
                file.windows[FileCounters.hourKey(windows)] = try FileCounters.increment(hour, "the hour counter")
                file.totalCalls = try FileCounters.increment(file.totalCalls, "total_requests")
            } else {
                file.denied = try FileCounters.increment(file.denied, "denied_requests")
            }
            return APICallDecision(isAllowed: deniedBy == nil, deniedBy: deniedBy, usage: file.usage(windows, limits))
        }
    }

    public func recordOutcome(_ outcome: APICallOutcome) async throws {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        try await update(windows) { (file: inout FileCounters) throws(ScaleKitError) in
            switch outcome {
            case .success: file.successes = try FileCounters.increment(file.successes, "successful_requests")
            case .failure: file.failures = try FileCounters.increment(file.failures, "failed_requests")
            }
        }
    }

    public func usage() async throws -> APIUsage {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        let limits = configuration.limits
        return try await runBlocking(on: queue) { () throws(ScaleKitError) -> APIUsage in
            let path = try self.resolvedPath()
            return try FileLock.withExclusiveLock(on: path + ".lock") { () throws(ScaleKitError) -> APIUsage in
                try FileCounters.read(from: path).usage(windows, limits)
            }
        }
    }

    /// Locks, reads, applies `change`, prunes expired windows, writes atomically, unlocks.
    @discardableResult
    private func update<T: Sendable>(
        _ windows: APIWindows, _ change: @escaping @Sendable (inout FileCounters) throws(ScaleKitError) -> T
    ) async throws(ScaleKitError) -> T {
        return try await runBlocking(on: queue) { () throws(ScaleKitError) -> T in
            let path = try self.resolvedPath()
            return try FileLock.withExclusiveLock(on: path + ".lock") { () throws(ScaleKitError) -> T in
                var file = try FileCounters.read(from: path)
                let result = try change(&file)  // a refused change writes nothing
                file.prune(keeping: windows)
                try file.write(to: path)
                return result
            }
        }
    }
}

extension FileAPITracker {
    /// Decodes a tracker file's bytes exactly as the tracker reads them, then
    /// counts one call and one outcome in memory, for the fuzzer: it must
    /// return or throw ``ScaleKitError``, never trap.
    @_spi(Fuzzing)
    public static func fuzzFileContents(_ bytes: [UInt8]) throws(ScaleKitError) -> APIUsage {
        var counters = try FileCounters.decode(Data(bytes), path: "fuzz input")
        let windows = APIWindows(containing: Date(timeIntervalSince1970: 0), timeZone: .utc)
        counters.windows[FileCounters.dayKey(windows)] = try FileCounters.increment(counters.windows[FileCounters.dayKey(windows), default: 0], "day")
        counters.totalCalls = try FileCounters.increment(counters.totalCalls, "total_requests")
        counters.successes = try FileCounters.increment(counters.successes, "successful_requests")
        counters.prune(keeping: windows)
        return counters.usage(windows, .default)
    }

    /// Resolves ``path`` on the first call and returns the same target ever after.
    @available(*, noasync, message: "blocks the thread; call it from a dispatch queue")
    fileprivate func resolvedPath() throws(ScaleKitError) -> String {
        if let known = resolved.withLock({ $0 }) { return known }
        let target = try TrackerFilePath.resolve(path)
        resolved.withLock { $0 = target }
        return target
    }
}

/// The file's contents: window counters by name plus totals.
struct FileCounters: Codable {
    var version = 1
    var windows: [String: Int] = [:]
    var totalCalls = 0
    var successes = 0
    var failures = 0
    var denied = 0

    enum CodingKeys: String, CodingKey {
        case version, windows
        case totalCalls = "total_requests"
        case successes = "successful_requests"
        case failures = "failed_requests"
        case denied = "denied_requests"
    }

    /// The largest count the file holds: 2^53 − 1, the largest whole number
    /// every JSON reader (and Redis's Lua) represents exactly.
    static let maximumCount = APILimits.maximumCount

    /// Every number in the file with the name an operator sees in it.
    var numberedFields: [(String, Int)] {
        [("total_requests", totalCalls), ("successful_requests", successes), ("failed_requests", failures), ("denied_requests", denied)]
            + windows.sorted { $0.key < $1.key }.map { ("windows[\"\($0.key)\"]", $0.value) }
    }

    /// `value + 1`, or ``ScaleKitError/Code/corruptData`` naming `field` once it would pass ``maximumCount``.
    static func increment(_ value: Int, _ field: String) throws(ScaleKitError) -> Int {
        guard value < maximumCount else {
            throw ScaleKitError(.corruptData, "the API tracker's \(field) has reached its maximum of \(maximumCount)")
        }
        return value + 1
    }

    static func dayKey(_ windows: APIWindows) -> String { "day:\(windows.dayName)" }
    static func hourKey(_ windows: APIWindows) -> String { "hour:\(windows.hourName)" }

    func usage(_ windows: APIWindows, _ limits: APILimits) -> APIUsage {
        APIUsage(
            dayCount: self.windows[Self.dayKey(windows), default: 0],
            hourCount: self.windows[Self.hourKey(windows), default: 0],
            limits: limits, totalCalls: totalCalls, successes: successes, failures: failures, denied: denied,
            dayResetsAt: windows.dayEnd, hourResetsAt: windows.hourEnd)
    }

    /// Keeps only the current windows, so the file does not grow forever.
    mutating func prune(keeping current: APIWindows) {
        let keep: Set = [Self.dayKey(current), Self.hourKey(current)]
        windows = windows.filter { keep.contains($0.key) }
    }

    static func read(from path: String) throws(ScaleKitError) -> FileCounters {
        guard let data = try TrackerFilePath.contents(path) else { return FileCounters() }
        return try decode(data, path: path)
    }

    /// Decodes and range-checks a tracker file's bytes.
    static func decode(_ data: Data, path: String) throws(ScaleKitError) -> FileCounters {
        do {
            let counters = try JSONDecoder().decode(FileCounters.self, from: data)
            guard counters.version == 1 else {
                throw ScaleKitError(.corruptData, "API tracker file \(path) has unknown version \(counters.version)")
            }
            // Every number is range-checked here, where it enters, so no
            // later `+ 1` or conversion can trap on a hand-edited file.
            for (field, value) in counters.numberedFields where !(0...maximumCount).contains(value) {
                throw ScaleKitError(
                    .corruptData,
                    "API tracker file \(path) holds \(field) = \(value), outside 0…\(maximumCount); it was left untouched: fix or remove it")
            }
            return counters
        } catch let error as ScaleKitError {
            throw error
        } catch {
            throw ScaleKitError(
                .corruptData,
                "API tracker file \(path) is corrupt (\(data.count) bytes); it was left untouched: fix or remove it",
                underlying: error)
        }
    }

    func write(to path: String) throws(ScaleKitError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do { data = try encoder.encode(self) } catch {
            throw ScaleKitError(.ioError, "cannot encode API tracker counters", underlying: error)
        }
        try AtomicFile.write(data, to: path)
    }
}
