import Foundation
public import Metrics

/// An ``APITracking`` that keeps its counters in this process's memory.
///
/// For unit tests and single-process tools: atomic across the tasks of one
/// process, invisible to every other process. Never blocks. Decisions are
/// the same pure functions over a ledger value as the file tracker's.
public final class InMemoryAPITracker: APITracking {
    public let configuration: APITrackerConfiguration
    private let clock: any WallClock
    private let ledgers = SanitizerVisibleMutex([String: QuotaLedger]())
    private let metrics: APICallMetrics

    /// - Parameters:
    ///   - configuration: the limits and quotas.
    ///   - clock: what decides the current windows (tests pass a manual one).
    ///   - metricsFactory: where the allowed and denied counters go (Docs/Operations.md).
    public init(
        configuration: APITrackerConfiguration = APITrackerConfiguration(), clock: any WallClock = .system,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.configuration = configuration
        self.clock = clock
        self.metrics = APICallMetrics(factory: metricsFactory)
    }

    public var quotas: [Quota] { configuration.quotas }

    public func checkAndCount(_ request: QuotaRequest) async throws -> QuotaDecision {
        let decision = try count(request, reserveFor: nil)
        metrics.record(decision, quota: request.quota)
        return decision
    }

    public func reserve(_ request: QuotaRequest, holdFor: Duration) async throws -> QuotaDecision {
        let decision = try count(request, reserveFor: holdFor)
        metrics.record(decision, quota: request.quota)
        return decision
    }

    private func count(_ request: QuotaRequest, reserveFor: Duration?) throws(ScaleKitError) -> QuotaDecision {
        let quota = try configuration.quota(named: request.quota)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: request.key, at: now)
        let until = try reserveFor.map { (hold) throws(ScaleKitError) in try Self.deadline(now, hold) }
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.checkAndCount(plan, cost: request.cost, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds, reserveUntil: until)
        }
    }

    public func confirm(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        let quota = try configuration.quota(named: receipt.quota)
        let now = clock.now().quotaMilliseconds
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.confirm(receipt, quota: quota, now: now, rollingNow: now)
        }
    }

    public func refund(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        let quota = try configuration.quota(named: receipt.quota)
        let now = clock.now().quotaMilliseconds
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.refund(receipt, quota: quota, now: now, rollingNow: now)
        }
    }

    public func reconcile(quota name: String, limit: String, key: String?, remaining: Int) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.reconcile(plan, limit: limit, remaining: remaining, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
        }
    }

    public func usage(quota name: String, key: String?) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        return withLedgerNoThrow(quota.name) { ledger in
            ledger.expire(quota, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
            return ledger.usage(plan, rollingNow: now.quotaMilliseconds)
        }
    }

    public func recordOutcome(_ outcome: APICallOutcome, quota name: String) async throws {
        let quota = try configuration.quota(named: name)
        try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in try ledger.recordOutcome(outcome) }
    }

    /// Runs `change` on a copy of the quota's ledger and keeps it only when `change` returns.
    private func withLedger<T: Sendable>(_ name: String, _ change: (inout QuotaLedger) throws(ScaleKitError) -> T) throws(ScaleKitError) -> T {
        try ledgers.withLock { (ledgers: inout [String: QuotaLedger]) throws(ScaleKitError) -> T in
            var ledger = ledgers[name] ?? QuotaLedger()
            let value = try change(&ledger)  // a refused change keeps the old ledger
            ledgers[name] = ledger
            return value
        }
    }

    private func withLedgerNoThrow<T: Sendable>(_ name: String, _ body: (inout QuotaLedger) -> T) -> T {
        ledgers.withLock { ledgers in
            var ledger = ledgers[name] ?? QuotaLedger()
            let value = body(&ledger)
            ledgers[name] = ledger
            return value
        }
    }

    /// `now + hold` in milliseconds; a hold must be within 1 ms…31 days.
    static func deadline(_ now: Date, _ hold: Duration) throws(ScaleKitError) -> Int64 {
        let milliseconds = hold.milliseconds
        guard (1...31 * 86_400_000).contains(milliseconds) else {
            throw ScaleKitError(.invalidArgument, "a reservation must be held for 1 ms…31 days, not \(hold)")
        }
        return now.quotaMilliseconds + milliseconds
    }
}
