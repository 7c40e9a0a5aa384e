public import ArgumentParser
public import ScaleKit

struct AcquireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acquire",
        abstract: "Check the API limits and count one call if allowed (atomic across workers).",
        discussion: "Exits 0 when the call is allowed and counted, 3 when a limit denies it (nothing is counted)."
    )

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let decision = try await withBackends(output, needs: .apiTracker) { try await $0.apiTracker.checkAndCount() }
        output.emit(DecisionJSON(decision)) {
            decision.isAllowed
                ? "allowed: \(decision.usage.remaining) call(s) left (day \(decision.usage.dayCount)/\(decision.usage.limits.daily), hour \(decision.usage.hourCount)/\(decision.usage.limits.hourly))"
                : "denied by the \(decision.deniedBy?.rawValue ?? "?") limit; resets at \(decision.deniedBy == .day ? decision.usage.dayResetsAt : decision.usage.hourResetsAt)"
        }
        if !decision.isAllowed { throw ExitStatus.denied }
    }
}

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record the outcome of an API call that `acquire` allowed."
    )

    @OptionGroup var output: OutputOptions
    @Argument(help: "success or failure") var outcome: APICallOutcome

    func run() async throws {
        let outcome = outcome
        let usage = try await withBackends(output, needs: .apiTracker) { backends in
            try await backends.apiTracker.recordOutcome(outcome)
            return try await backends.apiTracker.usage()
        }
        output.emit(usage) { "recorded \(outcome.rawValue): \(usage.successes) successes, \(usage.failures) failures" }
    }
}

extension APICallOutcome: ExpressibleByArgument {}

struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show the API call counts, limits and window resets."
    )

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let usage = try await withBackends(output, needs: .apiTracker) { try await $0.apiTracker.usage() }
        output.emit(usage) {
            """
            today:     \(usage.dayCount)/\(usage.limits.daily) (resets \(usage.dayResetsAt))
            this hour: \(usage.hourCount)/\(usage.limits.hourly) (resets \(usage.hourResetsAt))
            total:     \(usage.totalCalls) calls, \(usage.successes) successes, \(usage.failures) failures, \(usage.denied) denied
            """
        }
    }
}

struct DecisionJSON: Encodable {
    var allowed: Bool
    var deniedBy: String?
    var usage: APIUsage
    init(_ decision: APICallDecision) {
        allowed = decision.isAllowed
        deniedBy = decision.deniedBy?.rawValue
        usage = decision.usage
    }
}
