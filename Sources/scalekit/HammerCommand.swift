import ArgumentParser
import Foundation
import ScaleKit
import ScaleKitServices
import Synchronization

/// Load from one process, for proving atomicity across several: the test
/// suite starts a few of these at once against one backend and adds up
/// their JSON reports.
struct HammerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hammer",
        abstract: "Put concurrent load on one backend primitive and report exact counts as JSON.",
        discussion: "Start several at once against the same REDIS_URL / DATABASE_URL / API_TRACKER_FILE to check that counts add up across processes.",
        subcommands: [API.self, Claim.self, Claims.self, Drain.self, Status.self]
    )

    struct Load: ParsableArguments {
        @Option(help: "Concurrent tasks in this process.") var tasks: Int = 4
        @Flag(help: "Log what the backends do on standard error.") var verbose = false
        @Option(help: "Start the load at this Unix time (seconds), after connecting, so several processes start together.")
        var startAt: Double?
        @Flag(help: "Count errors and go on instead of stopping at the first one (for outage and crash tests).")
        var keepGoing = false
        @Option(help: "Go on for this many milliseconds instead of a fixed amount of work.")
        var durationMs: Int?
        @Option(help: "Go on until this file exists instead of a fixed amount of work (with --duration-ms: whichever comes first).")
        var stopFile: String?

        mutating func validate() throws {
            if let durationMs, !(0...(7 * 86_400_000)).contains(durationMs) {
                throw ValidationError("--duration-ms \(durationMs) is outside 0…604800000 (a week)")
            }
        }

        /// Sleeps until `--start-at`, so processes launched one by one race for real.
        func waitForStart() async throws {
            guard let startAt else { return }
            let delay = startAt - Date().timeIntervalSince1970
            // Checked as a Double before it becomes an Int: --start-at 1e300 must not trap.
            guard delay.isFinite, delay <= 3_600 else {
                throw ValidationError("--start-at \(startAt) is not a Unix time within the next hour")
            }
            if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
        }

        /// When a task started now should stop, from `--duration-ms` and `--stop-file`.
        func stopCondition() -> StopCondition {
            // A week at most, so the deadline's arithmetic cannot overflow (validated in `validate()`).
            StopCondition(deadline: durationMs.map { ContinuousClock.now + .milliseconds(min(max(0, $0), 7 * 86_400_000)) }, stopFile: stopFile)
        }
    }

    /// The end of an open-ended load: a deadline, a file appearing, or both.
    struct StopCondition: Sendable {
        var deadline: ContinuousClock.Instant?
        var stopFile: String?

        /// Whether the load runs until this condition rather than for a fixed amount of work.
        var isOpenEnded: Bool { deadline != nil || stopFile != nil }

        var isReached: Bool {
            if let deadline, ContinuousClock.now >= deadline { return true }
            if let stopFile, FileManager.default.fileExists(atPath: stopFile) { return true }
            return false
        }
    }

    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "checkAndCount() `--calls` times (or for `--duration-ms`), recording each allowed call's outcome.",
            discussion: """
                Prints the allowed and denied calls and the recorded outcomes, each one acknowledged by the \
                backend. With --keep-going a failed call is counted (errors, recordErrors) instead of stopping \
                the load, and tasksRecovered counts the tasks whose last call succeeded.
                """)
        @OptionGroup var load: Load
        @Option(help: "Calls in all, spread over the tasks.") var calls: Int = 100
        @Option(help: "Call this quota with checkAndCount(_:) instead of the default checkAndCount().") var quota: String?
        @Option(help: "With --quota: task i uses key \"tenant-(i mod N)\"; counts are also printed per key.") var keys: Int = 0
        @Option(help: "With --quota: the units each call takes.") var cost: Int = 1
        @Option(
            help: """
                With --quota: a call denied by the limit of this name waits until it fits again and tries once more \
                (the retry is not one more of --calls). Repeatable. Every allowed call is also counted per window of \
                each named limit, as allowedIn:<limit>@<window end in Unix ms>, so a test can add up each window \
                across processes.
                """)
        var waitOut: [String] = []

        func run() async throws {
            let (calls, tasks, load) = (calls, max(1, load.tasks), load)
            if let quota {
                let (keys, cost, waitOut) = (keys, cost, Set(waitOut))
                let counts = try await hammerCounting(load) { backends in
                    try await withThrowingTaskGroup(of: Counts.self) { group in
                        for task in 0..<tasks {
                            let share = calls / tasks + (task < calls % tasks ? 1 : 0)
                            let request = QuotaRequest(quota: quota, key: keys > 0 ? "tenant-\(task % keys)" : nil, cost: cost)
                            group.addTask { try await Self.callQuota(backends.apiTracker, request, calls: share, waitOut: waitOut, load: load) }
                        }
                        return try await group.reduce(into: Counts()) { $0.merge($1) }
                    }
                }
                print(counts.json())
                return
            }
            let counts = try await hammerCounting(load) { backends in
                try await withThrowingTaskGroup(of: Counts.self) { group in
                    for task in 0..<tasks {
                        let share = calls / tasks + (task < calls % tasks ? 1 : 0)
                        group.addTask { try await Self.callAPI(backends.apiTracker, calls: share, load: load) }
                    }
                    return try await group.reduce(into: Counts()) { $0.merge($1) }
                }
            }
            print(counts.json())
        }

        private static func callQuota(
            _ tracker: any APITracking, _ request: QuotaRequest, calls: Int, waitOut: Set<String>, load: Load
        ) async throws -> Counts {
            var counts = Counts(["allowed": 0, "denied": 0])
            var done = 0
            while done < calls {
                let decision: QuotaDecision
                do {
                    decision = try await tracker.checkAndCount(request)
                } catch {
                    done += 1
                    try await counts.failed(error, as: "errors", keepGoing: load.keepGoing)
                    continue
                }
                if !decision.isAllowed, let limit = decision.deniedBy, waitOut.contains(limit), let retryAt = decision.retryAt {
                    // deniedBy names the limit to wait longest for, so a call that
                    // the day also refuses is never retried here.
                    counts.add("waited:\(limit)")
                    let delay = min(max(retryAt.timeIntervalSinceNow, 0), 60)
                    try await Task.sleep(for: .milliseconds(Int(delay * 1000) + 1))
                    continue
                }
                done += 1
                counts.add(decision.isAllowed ? "allowed" : "denied")
                if decision.isAllowed, let key = request.key { counts.add("allowed:\(key)") }
                if decision.isAllowed {
                    for limit in decision.usage.limits where waitOut.contains(limit.name) {
                        let end = limit.resetsAt.map { Int(($0.timeIntervalSince1970 * 1000).rounded()) } ?? 0
                        counts.add("allowedIn:\(limit.name)@\(end)")
                    }
                }
                if let limit = decision.usage.limits.first(where: { $0.used > $0.limit }) { counts.add("overLimit:\(limit.name)") }
            }
            return counts
        }

        private static func callAPI(_ tracker: any APITracking, calls: Int, load: Load) async throws -> Counts {
            var counts = Counts(["allowed": 0, "denied": 0])
            let until = load.stopCondition()
            var done = 0
            var lastFailed = false
            while until.isOpenEnded ? !until.isReached : done < calls {
                done += 1
                let decision: APICallDecision
                do {
                    decision = try await tracker.checkAndCount()
                } catch {
                    try await counts.failed(error, as: "errors", keepGoing: load.keepGoing)
                    lastFailed = true
                    continue
                }
                counts.add(decision.isAllowed ? "allowed" : "denied")
                lastFailed = false
                guard decision.isAllowed else { continue }
                do {
                    try await tracker.recordOutcome(.success)
                    counts.add("recorded")
                } catch {
                    try await counts.failed(error, as: "recordErrors", keepGoing: load.keepGoing)
                    lastFailed = true
                }
            }
            if !lastFailed { counts.add("tasksRecovered") }
            return counts
        }
    }

    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Claim one video from every task at once; report the outcomes.",
            discussion: """
                With --hold-ms the outcomes are printed as soon as every task has its answer, and the process \
                then sleeps, holding what it won without renewing the lease, before exiting: kill it to act \
                out a worker that crashed in the middle of processing.
                """)
        @OptionGroup var load: Load
        @Argument(help: "The video id.") var id: String
        @Option(help: "Lease in seconds.") var lease: Int = 900
        @Option(help: "After printing the outcomes, sleep this many milliseconds before exiting.") var holdMs: Int?

        func run() async throws {
            let (id, lease, tasks, holdMs) = (id, lease, max(1, load.tasks), holdMs)
            let counts = try await hammer(load) { backends in
                let counts = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<tasks {
                        group.addTask {
                            try await backends.videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(lease)).outcome.rawValue
                        }
                    }
                    return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
                }
                if let holdMs {
                    // Written unbuffered, so a test reading the pipe sees it before the sleep.
                    FileHandle.standardOutput.write(OutputOptions.encode(counts) + Data("\n".utf8))
                    try await Task.sleep(for: .milliseconds(holdMs))
                }
                return counts
            }
            if holdMs == nil { print(String(decoding: OutputOptions.encode(counts), as: UTF8.self)) }
        }
    }

    struct Claims: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Claim (and complete) `--ids` videos from every task; report every acknowledged win.",
            discussion: """
                Every task walks the ids <prefix>-0 … <prefix>-<ids - 1>, each task starting at a different \
                one, claiming each and, with --complete, completing the ones it wins. Prints counts (won, lost, \
                completed, errors, completeErrors; tasksRecovered: tasks whose last call succeeded), `wins` (the \
                token of every claim this process won, as the backend acknowledged it) and `completedIDs`. With \
                --duration-ms or --stop-file the walk repeats until the time is up or the file exists.
                """)
        @OptionGroup var load: Load
        @Option(help: "How many videos.") var ids: Int = 100
        @Option(help: "The ids' prefix.") var prefix: String
        @Option(help: "Lease in seconds.") var lease: Int = 900
        @Flag(help: "Complete each video this process wins.") var complete = false

        /// What one task acknowledged.
        struct Report: Sendable {
            var counts = Counts()
            var wins: [String: String] = [:]
            var completed: [String] = []

            mutating func merge(_ other: Report) {
                counts.merge(other.counts)
                wins.merge(other.wins) { first, _ in first }
                completed += other.completed
            }
        }

        func run() async throws {
            let (settings, tasks, load) = (self, max(1, load.tasks), load)
            let report = try await hammer(load) { backends in
                var report = try await withThrowingTaskGroup(of: Report.self) { group in
                    for task in 0..<tasks {
                        group.addTask { try await settings.walk(backends.videos, firstID: task * settings.ids / tasks) }
                    }
                    return try await group.reduce(into: Report()) { $0.merge($1) }
                }
                await report.counts.addPoolStatistics(backends.pools)
                return report
            }
            var object = report.counts.values.mapValues { JSONValue.number(Double($0)) }
            object["wins"] = .object(report.wins.mapValues { .string($0) })
            object["completedIDs"] = .array(report.completed.map { .string($0) })
            print(String(decoding: JSONValue.object(object).encoded(), as: UTF8.self))
        }

        private func walk(_ videos: any VideoRepository, firstID: Int) async throws -> Report {
            var report = Report(counts: Counts(["won": 0, "lost": 0]))
            let count = max(1, ids)
            let until = load.stopCondition()
            var lastFailed = false
            repeat {
                for step in 0..<count {
                    if until.isReached { break }
                    let id = "\(prefix)-\((firstID + step) % count)"
                    let claim: VideoClaim
                    do {
                        claim = try await videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(lease))
                    } catch {
                        try await report.counts.failed(error, as: "errors", keepGoing: load.keepGoing)
                        lastFailed = true
                        continue
                    }
                    lastFailed = false
                    guard claim.shouldProcess, let token = claim.token else {
                        report.counts.add("lost")
                        continue
                    }
                    report.counts.add("won")
                    report.wins[id] = token.rawValue
                    guard complete else { continue }
                    do {
                        try await videos.completeVideo(id: id, token: token)
                        report.counts.add("completed")
                        report.completed.append(id)
                    } catch {
                        try await report.counts.failed(error, as: "completeErrors", keepGoing: load.keepGoing)
                        lastFailed = true
                    }
                }
            } while until.isOpenEnded && !until.isReached
            if !lastFailed { report.counts.add("tasksRecovered") }
            return report
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every task asks for the next video (claimNext), works on it and completes it, until none is due.",
            discussion: """
                Prints `completed <id>` as soon as each completion is acknowledged (unbuffered, so a test that \
                kills the process with SIGKILL still sees every acknowledged one), then the counts as JSON: \
                claimed, completed, and the outcomes (claimedPending, retryingFailed, tookOverExpiredLease).
                """)
        @OptionGroup var load: Load
        @Option(help: "Lease in seconds.") var lease: Int = 900
        @Option(help: "Milliseconds of \"work\" per video before completing it.") var workMs: Int = 0
        // For crash tests, so hidden from --help: once the process has completed
        // this many videos, every task keeps the claim it holds (or waits, when
        // none is due) until the process is killed; it never ends on its own.
        @Option(help: .hidden) var stallAfter: Int?

        func run() async throws {
            let (lease, workMs, tasks) = (lease, workMs, max(1, load.tasks))
            let stall = StallSwitch(after: stallAfter)
            let counts = try await hammerCounting(load) { backends in
                try await withThrowingTaskGroup(of: Counts.self) { group in
                    for _ in 0..<tasks {
                        group.addTask {
                            var counts = Counts(["claimed": 0, "completed": 0])
                            while let claim = try await backends.videos.claimNext(lease: .seconds(lease)), let token = claim.token {
                                counts.add("claimed")
                                counts.add(claim.outcome.rawValue)
                                if workMs > 0 { try await Task.sleep(for: .milliseconds(workMs)) }
                                try await stall.holdIfStalled()
                                try await backends.videos.completeVideo(id: claim.video.id, token: token)
                                FileHandle.standardOutput.write(Data("completed \(claim.video.id)\n".utf8))
                                stall.completed()
                                counts.add("completed")
                            }
                            try await stall.holdIfStalled(evenUnstarted: true)
                            return counts
                        }
                    }
                    return try await group.reduce(into: Counts()) { $0.merge($1) }
                }
            }
            print(counts.json())
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Merge `worker_<name>_<task>` fields into one status, `--merges` times per task.")
        @OptionGroup var load: Load
        @Argument(help: "The job id.") var id: String
        @Option(help: "This process's name in the field names.") var worker: String
        @Option(help: "Merges per task.") var merges: Int = 10

        func run() async throws {
            let (id, worker, merges, tasks) = (id, worker, merges, max(1, load.tasks))
            let total = try await hammer(load) { backends in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for task in 0..<tasks {
                        group.addTask {
                            for step in 1...max(1, merges) {
                                try await backends.statusTracker.mergeStatus(["worker_\(worker)_\(task)": .number(Double(step))], for: id)
                            }
                            return merges
                        }
                    }
                    return try await group.reduce(0, +)
                }
            }
            print(String(decoding: OutputOptions.encode(["merges": total]), as: UTF8.self))
        }
    }
}

private func hammer<R: Sendable>(_ load: HammerCommand.Load, _ body: @escaping @Sendable (ScaleKitBackends) async throws -> R) async throws -> R {
    var output = OutputOptions()
    output.json = true
    output.verbose = load.verbose
    return try await withBackends(output) { backends in
        try await load.waitForStart()
        return try await body(backends)
    }
}

/// ``hammer(_:_:)`` for loads that report ``Counts``: adds the pools' settled statistics to them.
private func hammerCounting(_ load: HammerCommand.Load, _ body: @escaping @Sendable (ScaleKitBackends) async throws -> Counts) async throws -> Counts {
    try await hammer(load) { backends in
        var counts = try await body(backends)
        await counts.addPoolStatistics(backends.pools)
        return counts
    }
}

/// Counts by name, printed as one JSON object of integers.
struct Counts: Sendable {
    var values: [String: Int]

    init(_ values: [String: Int] = [:]) { self.values = values }

    mutating func add(_ name: String, _ amount: Int = 1) { values[name, default: 0] += amount }
    mutating func merge(_ other: Counts) { values.merge(other.values, uniquingKeysWith: +) }

    /// Counts a failed call under `name` (and under `untypedErrors` when it is
    /// not a ScaleKitError) and pauses a moment before the next call; without
    /// --keep-going, rethrows instead.
    mutating func failed(_ error: any Error, as name: String, keepGoing: Bool) async throws {
        guard keepGoing else { throw error }
        add(name)
        if !(error is ScaleKitError) { add("untypedErrors") }
        try await Task.sleep(for: .milliseconds(20))
    }

    /// Adds the pools' checked-out, waiting, and opening or closing
    /// connections once they have settled (waiting at most five seconds) as
    /// `pool_*` counts: a pool that recovered from an outage is idle, all zeros.
    mutating func addPoolStatistics(_ pools: [PoolProbe]) async {
        func busy() -> [Int] {
            var figures = [0, 0, 0]
            for statistics in pools.map({ $0.statistics() }) {
                figures[0] += statistics.checkedOut
                figures[1] += statistics.waiters
                figures[2] += statistics.opening + statistics.closing
            }
            return figures
        }
        var figures = busy()
        for _ in 0..<100 where figures != [0, 0, 0] {
            try? await Task.sleep(for: .milliseconds(50))
            figures = busy()
        }
        values["pool_checkedOut"] = figures[0]
        values["pool_waiters"] = figures[1]
        values["pool_openingOrClosing"] = figures[2]
    }

    func json() -> String { String(decoding: OutputOptions.encode(values), as: UTF8.self) }
}

/// `hammer drain --stall-after N`: a worker that stops in the middle of its
/// work, holding its claims, so a test's SIGKILL always finds it running.
private final class StallSwitch: Sendable {
    private let limit: Int?
    private let completions = Atomic<Int>(0)

    init(after limit: Int?) { self.limit = limit }

    func completed() { completions.wrappingAdd(1, ordering: .relaxed) }

    /// Sleeps until the process is killed once `limit` completions are in
    /// (with `evenUnstarted`, whenever a limit is set: a task that found
    /// nothing due must not let the process end either).
    func holdIfStalled(evenUnstarted: Bool = false) async throws {
        guard let limit else { return }
        guard evenUnstarted || completions.load(ordering: .relaxed) >= limit else { return }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
