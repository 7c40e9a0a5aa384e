import ArgumentParser
import Foundation
import ScaleKit
import ScaleKitServices

/// Load from one process, for proving atomicity across several: the test
/// suite starts a few of these at once against one backend and adds up
/// their JSON reports.
struct HammerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hammer",
        abstract: "Put concurrent load on one backend primitive and report exact counts as JSON.",
        discussion: "Start several at once against the same REDIS_URL / DATABASE_URL / API_TRACKER_FILE to check that counts add up across processes.",
        subcommands: [API.self, Claim.self, Status.self]
    )

    struct Load: ParsableArguments {
        @Option(help: "Concurrent tasks in this process.") var tasks: Int = 4
        @Flag(help: "Log what the backends do on standard error.") var verbose = false
        @Option(help: "Start the load at this Unix time (seconds), after connecting, so several processes start together.")
        var startAt: Double?

        /// Sleeps until `--start-at`, so processes launched one by one race for real.
        func waitForStart() async throws {
            guard let startAt else { return }
            let delay = startAt - Date().timeIntervalSince1970
            if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
        }
    }

    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "checkAndCount() `--calls` times, recording each allowed call's outcome.")
        @OptionGroup var load: Load
        @Option(help: "Calls in all, spread over the tasks.") var calls: Int = 100

        func run() async throws {
            let (calls, tasks) = (calls, max(1, load.tasks))
            let counts = try await hammer(load) { backends in
                try await withThrowingTaskGroup(of: [String: Int].self) { group in
                    for task in 0..<tasks {
                        let share = calls / tasks + (task < calls % tasks ? 1 : 0)
                        group.addTask {
                            var counts = ["allowed": 0, "denied": 0]
                            for _ in 0..<share {
                                let decision = try await backends.apiTracker.checkAndCount()
                                counts[decision.isAllowed ? "allowed" : "denied", default: 0] += 1
                                if decision.isAllowed { try await backends.apiTracker.recordOutcome(.success) }
                            }
                            return counts
                        }
                    }
                    return try await group.reduce(into: [:]) { $0.merge($1, uniquingKeysWith: +) }
                }
            }
            print(String(decoding: OutputOptions.encode(counts), as: UTF8.self))
        }
    }

    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Claim one video from every task at once; report the outcomes.")
        @OptionGroup var load: Load
        @Argument(help: "The video id.") var id: String
        @Option(help: "Lease in seconds.") var lease: Int = 900

        func run() async throws {
            let (id, lease, tasks) = (id, lease, max(1, load.tasks))
            let counts = try await hammer(load) { backends in
                try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<tasks {
                        group.addTask {
                            try await backends.videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(lease)).outcome.rawValue
                        }
                    }
                    return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
                }
            }
            print(String(decoding: OutputOptions.encode(counts), as: UTF8.self))
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
