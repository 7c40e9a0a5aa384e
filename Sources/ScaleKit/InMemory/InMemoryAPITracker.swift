import Foundation
public import Metrics

/// An ``APITracking`` that keeps its counters in this process's memory.
///
/// For unit tests and single-process tools: atomic across the tasks of one
/// process, invisible to every other process. Never blocks. Decisions are
/// the same pure functions over a ledger value as the file tracker's.
public final class InMemoryAPITracker: APITracking {
    /// The limits, windows and quotas this tracker enforces.
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

    /// Every quota: the default first, then the configured ones.
    public var quotas: [Quota] { configuration.quotas }

    /// Checks every limit of the quota and counts the call in all of them, or
    /// in none, atomically across this process's tasks.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota, a
    ///   missing key or a cost out of range.
    public func checkAndCount(_ request: QuotaRequest) async throws -> QuotaDecision {
        let decision = try count(request, reserveFor: nil)
        metrics.record(decision, quota: request.quota)
        return decision
    }

    /// Counts the call like ``checkAndCount(_:)`` and holds the units for
    /// `holdFor` unless ``confirm(_:)`` keeps them or ``refund(_:)`` releases
    /// them first.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` as ``checkAndCount(_:)`` does.
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

    /// Keeps a reservation's units for good; a receipt already settled is
    /// reported, not counted twice.
    public func confirm(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        let quota = try configuration.quota(named: receipt.quota)
        let now = clock.now().quotaMilliseconds
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.confirm(receipt, quota: quota, now: now, rollingNow: now)
        }
    }

    /// Gives a receipt's units back to the windows that still hold them; a
    /// receipt already settled is reported, not refunded twice.
    public func refund(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        let quota = try configuration.quota(named: receipt.quota)
        let now = clock.now().quotaMilliseconds
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.refund(receipt, quota: quota, now: now, rollingNow: now)
        }
    }

    /// Sets a limit's current count from the API's own `remaining` figure
    /// (`limit - remaining`, at least 0).
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota or
    ///   limit, a missing key or a `remaining` out of range.
    public func reconcile(quota name: String, limit: String, key: String?, remaining: Int) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        return try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.reconcile(plan, limit: limit, remaining: remaining, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
        }
    }

    /// Every limit of the quota for `key`, and the quota's totals.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota or a
    ///   missing key.
    public func usage(quota name: String, key: String?) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        return withLedgerNoThrow(quota.name) { ledger in
            ledger.expire(quota, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
            return ledger.usage(plan, rollingNow: now.quotaMilliseconds)
        }
    }

    /// Adds a call's outcome to the quota's totals.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota.
    public func recordOutcome(_ outcome: APICallOutcome, quota name: String) async throws {
        let quota = try configuration.quota(named: name)
        try withLedger(quota.name) { (ledger: inout QuotaLedger) throws(ScaleKitError) in try ledger.recordOutcome(outcome) }
    }

    /// Runs `change` on a copy of the quota's ledger and keeps it only when `change` returns.
    /// Counters, rolling buckets, settled marks and reservations held across
    /// every quota: what pruning on write keeps bounded by the live windows.
    package var heldEntryCount: Int {
        ledgers.withLock { ledgers in
            ledgers.values.reduce(0) { total, ledger in
                total + ledger.counters.count + ledger.buckets.values.reduce(0) { $0 + $1.count } + ledger.settled.count
                    + ledger.reservations.count
            }
        }
    }

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
