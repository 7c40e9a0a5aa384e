import Foundation

/// The counts of one quota as a plain value, and every decision over them
/// as a pure function: the in-memory tracker keeps ledgers under a mutex,
/// the file tracker keeps them in its JSON file under `flock`; both call the
/// same methods, so they decide identically.
///
/// Instants are milliseconds since 1970: `now` for calendar windows and
/// expiries, `rollingNow` for rolling buckets (the same clock here; on
/// Redis, the server's).
struct QuotaLedger: Codable, Sendable, Hashable {
    /// A calendar window's count and when it is forgotten.
    struct Count: Codable, Sendable, Hashable {
        var count: Int
        var expiresAt: Int64
    }

    /// Calendar counts by storage key (``QuotaPlan``).
    var counters: [String: Count] = [:]
    /// Rolling buckets by storage key, then by bucket index (as text, for JSON).
    var buckets: [String: [String: Int]] = [:]
    var totals = QuotaTotals()
    /// Receipt ids refunded or released, with when the mark may be forgotten.
    var settled: [String: Int64] = [:]
    /// Open reservations by receipt id.
    var reservations: [String: QuotaReceipt] = [:]

    enum CodingKeys: String, CodingKey { case counters, buckets, totals, settled, reservations }

    init() {}

    init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        counters = try values.decodeIfPresent([String: Count].self, forKey: .counters) ?? [:]
        buckets = try values.decodeIfPresent([String: [String: Int]].self, forKey: .buckets) ?? [:]
        totals = try values.decodeIfPresent(QuotaTotals.self, forKey: .totals) ?? QuotaTotals()
        settled = try values.decodeIfPresent([String: Int64].self, forKey: .settled) ?? [:]
        reservations = try values.decodeIfPresent([String: QuotaReceipt].self, forKey: .reservations) ?? [:]
    }

    /// Every number with the name an operator sees, for range checks on a file read from disk.
    var numberedFields: [(String, Int)] {
        [("total_requests", totals.calls), ("denied_requests", totals.denied), ("successful_requests", totals.successes),
         ("failed_requests", totals.failures), ("refunded_requests", totals.refunds)]
            + counters.sorted { $0.key < $1.key }.map { ("counters[\"\($0.key)\"]", $0.value.count) }
            + buckets.sorted { $0.key < $1.key }.flatMap { key, buckets in
                buckets.sorted { $0.key < $1.key }.map { ("buckets[\"\(key)\"][\"\($0.key)\"]", $0.value) }
            }
    }

    // MARK: Decisions

    /// Checks every limit of `plan` for `cost` units and counts them in all, or in none.
    /// With `reserveUntil`, the allowed call is also an open reservation.
    mutating func checkAndCount(
        _ plan: QuotaPlan, cost: Int, now: Int64, rollingNow: Int64, reserveUntil: Int64? = nil
    ) throws(ScaleKitError) -> QuotaDecision {
        try Self.validateCost(cost)
        expire(plan.quota, now: now, rollingNow: rollingNow)
        var denials: [(name: String, retry: Int64?)] = []
        for entry in plan.entries {
            let used = self.used(entry, rollingNow: rollingNow)
            if cost > entry.limit.count - used {
                denials.append((entry.limit.name, retryTime(entry, used: used, cost: cost, rollingNow: rollingNow)))
            }
        }
        if !denials.isEmpty {
            totals.denied = try Self.increment(totals.denied, "denied_requests")
            // The limit to wait longest for: one that never fits, else the latest retry.
            let worst = denials.first { $0.retry == nil } ?? denials.max { ($0.retry ?? 0) < ($1.retry ?? 0) }!
            let retryAt = worst.retry.map { Date(quotaMilliseconds: $0) }
            return QuotaDecision(isAllowed: false, deniedBy: worst.name, retryAt: retryAt,
                                 usage: usage(plan, rollingNow: rollingNow), receipt: nil)
        }
        totals.calls = try Self.increment(totals.calls, "total_requests")
        for entry in plan.entries {
            if entry.calendar != nil {
                let existing = counters[entry.storageKey]
                counters[entry.storageKey] = Count(
                    count: (existing?.count ?? 0) + cost,
                    expiresAt: existing?.expiresAt ?? now + Int64(entry.lifetimeSeconds) * 1000)
            } else if let rolling = entry.rolling {
                let index = String(Self.floorDivide(rollingNow, rolling.bucket))
                buckets[entry.storageKey, default: [:]][index, default: 0] += cost
            }
        }
        let receipt = QuotaReceipt(quota: plan.quota.name, key: plan.key, cost: cost, calendarAt: now, rollingAt: rollingNow, reservedUntil: reserveUntil)
        if reserveUntil != nil { reservations[receipt.id] = receipt }
        return QuotaDecision(isAllowed: true, deniedBy: nil, retryAt: nil, usage: usage(plan, rollingNow: rollingNow), receipt: receipt)
    }

    /// Gives a receipt's units back, exactly once.
    mutating func refund(_ receipt: QuotaReceipt, quota: Quota, now: Int64, rollingNow: Int64) throws(ScaleKitError) -> QuotaSettlement {
        try receipt.validate()
        expire(quota, now: now, rollingNow: rollingNow)
        if settled[receipt.id] != nil { return .alreadySettled }
        let plan = try QuotaPlan(quota: quota, key: receipt.key, at: Date(quotaMilliseconds: receipt.calendarAt))
        guard now < receipt.calendarAt + Int64(plan.longestLifetimeSeconds) * 1000 else { return .expired }
        reservations[receipt.id] = nil
        giveBack(receipt, plan)
        settled[receipt.id] = receipt.calendarAt + Int64(plan.longestLifetimeSeconds) * 1000
        totals.refunds = try Self.increment(totals.refunds, "refunded_requests")
        return .settled
    }

    /// Keeps a reservation's units for good.
    mutating func confirm(_ receipt: QuotaReceipt, quota: Quota, now: Int64, rollingNow: Int64) throws(ScaleKitError) -> QuotaSettlement {
        try receipt.validate()
        guard let until = receipt.reservedUntil else {
            throw ScaleKitError(.invalidArgument, "the receipt is not a reservation: there is nothing to confirm")
        }
        expire(quota, now: now, rollingNow: rollingNow)
        if reservations.removeValue(forKey: receipt.id) != nil { return .settled }
        return now >= until ? .expired : .alreadySettled
    }

    /// Sets a limit's current count to what the provider reports as left.
    mutating func reconcile(_ plan: QuotaPlan, limit name: String, remaining: Int, now: Int64, rollingNow: Int64) throws(ScaleKitError) -> QuotaUsage {
        guard let entry = plan.entries.first(where: { $0.limit.name == name }) else {
            if plan.quota.limit(named: name)?.perKey == true {
                throw ScaleKitError(.invalidArgument, "limit \(name) of quota \(plan.quota.name) is per key: name the key")
            }
            throw ScaleKitError(.invalidArgument, "quota \(plan.quota.name) has no limit named \(Quota.quoted(name))")
        }
        guard (0...APILimits.maximumCount).contains(remaining) else {
            throw ScaleKitError(.invalidArgument, "remaining \(remaining) is outside 0…\(APILimits.maximumCount)")
        }
        expire(plan.quota, now: now, rollingNow: rollingNow)
        let used = max(0, entry.limit.count - remaining)
        if entry.calendar != nil {
            counters[entry.storageKey] = Count(
                count: used, expiresAt: counters[entry.storageKey]?.expiresAt ?? now + Int64(entry.lifetimeSeconds) * 1000)
        } else if let rolling = entry.rolling {
            buckets[entry.storageKey] = used == 0 ? nil : [String(Self.floorDivide(rollingNow, rolling.bucket)): used]
        }
        return usage(plan, rollingNow: rollingNow)
    }

    /// Every limit of `plan` as it stands (call ``expire(_:now:rollingNow:)`` first).
    func usage(_ plan: QuotaPlan, rollingNow: Int64) -> QuotaUsage {
        let limits = plan.entries.map { entry in
            let used = self.used(entry, rollingNow: rollingNow)
            var resetsAt: Date? = entry.calendar?.end
            if let rolling = entry.rolling, used > 0,
                let newest = counted(entry, rollingNow: rollingNow).last?.index {
                resetsAt = Date(quotaMilliseconds: (newest + 1) * rolling.bucket + rolling.length)
            }
            return QuotaLimitStatus(name: entry.limit.name, window: entry.limit.window.label, perKey: entry.limit.perKey,
                                    limit: entry.limit.count, used: used, resetsAt: resetsAt)
        }
        return QuotaUsage(quota: plan.quota.name, key: plan.key, limits: limits, totals: totals)
    }

    /// Forgets ended windows, old buckets and settled marks, and releases expired reservations.
    mutating func expire(_ quota: Quota, now: Int64, rollingNow: Int64) {
        counters = counters.filter { $0.value.expiresAt > now }
        settled = settled.filter { $0.value > now }
        for (key, stored) in buckets {
            let limitName = String(key.prefix { $0 != ":" })
            guard let rolling = quota.limit(named: limitName)?.window.rollingGeometry else { buckets[key] = nil; continue }
            let oldest = Self.floorDivide(rollingNow - rolling.length, rolling.bucket)
            let newest = Self.floorDivide(rollingNow, rolling.bucket) + 2 * Int64(QuotaWindow.rollingBuckets)
            let kept = stored.filter { (oldest...newest).contains(Int64($0.key) ?? .min) && $0.value > 0 }
            buckets[key] = kept.isEmpty ? nil : kept
        }
        for (id, reservation) in reservations where (reservation.reservedUntil ?? .max) <= now {
            reservations[id] = nil
            if let plan = try? QuotaPlan(quota: quota, key: reservation.key, at: Date(quotaMilliseconds: reservation.calendarAt)) {
                giveBack(reservation, plan)
                settled[id] = reservation.calendarAt + Int64(plan.longestLifetimeSeconds) * 1000
                totals.refunds = min(totals.refunds + 1, APILimits.maximumCount)
            }
        }
    }

    mutating func recordOutcome(_ outcome: APICallOutcome) throws(ScaleKitError) {
        switch outcome {
        case .success: totals.successes = try Self.increment(totals.successes, "successful_requests")
        case .failure: totals.failures = try Self.increment(totals.failures, "failed_requests")
        }
    }

    // MARK: Helpers

    private mutating func giveBack(_ receipt: QuotaReceipt, _ plan: QuotaPlan) {
        for entry in plan.entries {
            if entry.calendar != nil, var stored = counters[entry.storageKey] {
                stored.count = max(0, stored.count - receipt.cost)
                counters[entry.storageKey] = stored
            } else if let rolling = entry.rolling {
                let index = String(Self.floorDivide(receipt.rollingAt, rolling.bucket))
                if let count = buckets[entry.storageKey]?[index] {
                    buckets[entry.storageKey]?[index] = count > receipt.cost ? count - receipt.cost : nil
                }
            }
        }
    }

    private func counted(_ entry: QuotaPlan.Entry, rollingNow: Int64) -> [(index: Int64, count: Int)] {
        guard let rolling = entry.rolling, let stored = buckets[entry.storageKey] else { return [] }
        let oldest = Self.floorDivide(rollingNow - rolling.length, rolling.bucket)
        // Buckets slightly ahead (a clock stepped back) still count; absurd indices do not.
        let newest = Self.floorDivide(rollingNow, rolling.bucket) + 2 * Int64(QuotaWindow.rollingBuckets)
        return stored.compactMap { key, count in Int64(key).flatMap { (oldest...newest).contains($0) ? ($0, count) : nil } }
            .sorted { $0.index < $1.index }
    }

    private func used(_ entry: QuotaPlan.Entry, rollingNow: Int64) -> Int {
        if entry.calendar != nil { return counters[entry.storageKey]?.count ?? 0 }
        return counted(entry, rollingNow: rollingNow).reduce(0) { $0 + $1.count }
    }

    /// When `cost` more units fit in `entry`; `nil` when they never can.
    private func retryTime(_ entry: QuotaPlan.Entry, used: Int, cost: Int, rollingNow: Int64) -> Int64? {
        guard cost <= entry.limit.count else { return nil }
        if let calendar = entry.calendar { return calendar.end.quotaMilliseconds }
        guard let rolling = entry.rolling else { return nil }
        let needed = used + cost - entry.limit.count
        var freed = 0
        for bucket in counted(entry, rollingNow: rollingNow) {
            freed += bucket.count
            if freed >= needed { return (bucket.index + 1) * rolling.bucket + rolling.length }
        }
        return nil
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    static func validateCost(_ cost: Int) throws(ScaleKitError) {
        guard (1...APILimits.maximumCount).contains(cost) else {
            throw ScaleKitError(.invalidArgument, "a call's cost must be within 1…\(APILimits.maximumCount), not \(cost)")
        }
    }

    /// `value + 1`, or ``ScaleKitError/Code/corruptData`` naming `field` once it would pass the maximum.
    static func increment(_ value: Int, _ field: String) throws(ScaleKitError) -> Int {
        guard value < APILimits.maximumCount else {
            throw ScaleKitError(.corruptData, "the API tracker's \(field) has reached its maximum of \(APILimits.maximumCount)")
        }
        return value + 1
    }
}
