public import ArgumentParser
public import ScaleKit
import Foundation

/// `--quota`, `--key` and `--cost`, shared by `acquire` and `usage`.
struct QuotaOptions: ParsableArguments {
    @Option(help: "The quota (see `scalekit doctor`).") var quota: String = Quota.defaultName
    @Option(help: "The tenant, user or API key, for quotas with per-key limits.") var key: String?
    @Option(help: "The units the call takes.") var cost: Int = 1

    /// `true` for the seed's call: the default quota, no key, cost 1.
    var isDefault: Bool { quota == Quota.defaultName && key == nil && cost == 1 }
    var request: QuotaRequest { QuotaRequest(quota: quota, key: key, cost: cost) }
}

struct AcquireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acquire",
        abstract: "Check the API limits and count one call if allowed (atomic across workers).",
        discussion: """
            Exits 0 when the call is allowed and counted, 3 when a limit denies it (nothing is counted). \
            With --quota, --key or --cost, prints every limit and, when allowed, the receipt that `scalekit refund` takes.
            """
    )

    @OptionGroup var output: OutputOptions
    @OptionGroup var quota: QuotaOptions

    func run() async throws {
        if !quota.isDefault { return try await runQuota() }
        let decision = try await withBackends(output, needs: .apiTracker) { try await $0.apiTracker.checkAndCount() }
        output.emit(DecisionJSON(decision)) {
            decision.isAllowed
                ? "allowed: \(decision.usage.remaining) call(s) left (day \(decision.usage.dayCount)/\(decision.usage.limits.daily), hour \(decision.usage.hourCount)/\(decision.usage.limits.hourly))"
                : "denied by the \(decision.deniedBy?.rawValue ?? "?") limit; resets at \(decision.deniedBy == .day ? decision.usage.dayResetsAt : decision.usage.hourResetsAt)"
        }
        if !decision.isAllowed { throw ExitStatus.denied }
    }

    private func runQuota() async throws {
        let request = quota.request
        let decision = try await withBackends(output, needs: .apiTracker) { try await $0.apiTracker.checkAndCount(request) }
        output.emit(QuotaDecisionJSON(decision)) {
            let limits = decision.usage.limits.map { "\($0.name) \($0.used)/\($0.limit)" }.joined(separator: ", ")
            return decision.isAllowed
                ? "allowed: \(decision.usage.remaining) unit(s) left (\(limits))\nreceipt: \(decision.receipt?.token ?? "")"
                : "denied by the \(decision.deniedBy ?? "?") limit; \(decision.retryAt.map { "fits again at \($0)" } ?? "the cost never fits") (\(limits))"
        }
        if !decision.isAllowed { throw ExitStatus.denied }
    }
}

struct RefundCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refund",
        abstract: "Give back the units of a call that `acquire` allowed, exactly once.",
        discussion: "Takes the receipt `acquire --quota …` printed. Prints settled, alreadySettled or expired."
    )

    @OptionGroup var output: OutputOptions
    @Argument(help: "The receipt (q1.…).") var receipt: String

    func run() async throws {
        let receipt: QuotaReceipt
        do { receipt = try QuotaReceipt(token: self.receipt) } catch { throw output.report(error) }
        let result = try await withBackends(output, needs: .apiTracker) { try await $0.apiTracker.refund(receipt) }
        output.emit(["result": result.rawValue]) { result.rawValue }
    }
}

/// `usage --cost N`: the quota's usage and whether a call of `cost` units
/// would fit now. Read from one snapshot and counting nothing, so another
/// worker may take the room before the caller's own `acquire`.
struct UsageFit: Encodable {
    var usage: QuotaUsage
    var cost: Int
    var fits: Bool
    /// The limits with less than `cost` units left, in the quota's order.
    var refusedBy: [String]

    init(usage: QuotaUsage, cost: Int) {
        self.usage = usage
        self.cost = cost
        refusedBy = usage.limits.filter { $0.remaining < cost }.map(\.name)
        fits = refusedBy.isEmpty
    }

    enum CodingKeys: String, CodingKey { case cost, fits, refusedBy = "refused_by" }

    func encode(to encoder: any Encoder) throws {
        // The usage's own fields stay at the top level, as `usage --json` prints them.
        try usage.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cost, forKey: .cost)
        try container.encode(fits, forKey: .fits)
        try container.encode(refusedBy, forKey: .refusedBy)
    }
}

struct QuotaDecisionJSON: Encodable {
    var allowed: Bool
    var deniedBy: String?
    var retryAt: Date?
    var usage: QuotaUsage
    var receipt: String?
    init(_ decision: QuotaDecision) {
        allowed = decision.isAllowed
        deniedBy = decision.deniedBy
        retryAt = decision.retryAt
        usage = decision.usage
        receipt = decision.receipt?.token
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
        abstract: "Show the API call counts, limits and window resets.",
        discussion: """
            With --quota or --key, shows every limit of that quota (the key's own and the overall ones). \
            With --cost, also says whether a call of that many units fits now, and which limits would refuse it \
            (nothing is counted).
            """
    )

    @OptionGroup var output: OutputOptions
    @Option(help: "The quota (see `scalekit doctor`).") var quota: String = Quota.defaultName
    @Option(help: "The tenant, user or API key whose per-key limits to show.") var key: String?
    @Option(help: "Say whether a call of this many units would fit now (counts nothing).") var cost: Int?

    func validate() throws {
        if let cost, !(1...APILimits.maximumCount).contains(cost) {
            throw ValidationError("--cost \(cost) is outside 1…\(APILimits.maximumCount)")
        }
    }

    func run() async throws {
        if quota != Quota.defaultName || key != nil || cost != nil {
            let (quota, key, cost) = (quota, key, cost)
            let usage = try await withBackends(output, needs: .apiTracker) { try await $0.apiTracker.usage(quota: quota, key: key) }
            let fit = cost.map { UsageFit(usage: usage, cost: $0) }
            let lines = usage.limits.map { "\($0.name): \($0.used)/\($0.limit)\($0.resetsAt.map { " (resets \($0))" } ?? "")" }
                + ["total: \(usage.totals.calls) calls, \(usage.totals.denied) denied, \(usage.totals.refunds) refunded"]
            if let fit {
                output.emit(fit) {
                    (lines + [fit.fits ? "a call of \(fit.cost) unit(s) fits now" : "a call of \(fit.cost) unit(s) would be refused by: \(fit.refusedBy.joined(separator: ", "))"])
                        .joined(separator: "\n")
                }
            } else {
                output.emit(usage) { lines.joined(separator: "\n") }
            }
            return
        }
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
