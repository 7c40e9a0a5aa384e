public import Foundation

/// The unit of a calendar window: the window starts at the beginning of the
/// unit (the top of the hour, midnight, the first of the month) in the
/// limit's time zone and ends at the beginning of the next.
public enum QuotaCalendarUnit: String, Sendable, Hashable, Codable, CaseIterable {
    case second, minute, hour, day, month

    /// The unit's nominal length in seconds (a month counts as 31 days);
    /// counters are kept for twice this long.
    public var nominalSeconds: Int {
        switch self {
        case .second: 1
        case .minute: 60
        case .hour: 3_600
        case .day: 86_400
        case .month: 31 * 86_400
        }
    }
}

/// The window a ``QuotaLimit`` counts in.
public enum QuotaWindow: Sendable, Hashable {
    /// A calendar window (this second, this hour, this day, this month) in a
    /// time zone: everything counted in it is forgotten at once when it ends.
    case calendar(QuotaCalendarUnit, timeZone: TimeZone = TimeZone(identifier: "UTC")!)
    /// A rolling window of the given length, at least one second and at most
    /// 31 days, in whole milliseconds: at every instant, the units counted in
    /// the window ending then never exceed the limit.
    ///
    /// It is a sliding window over ``QuotaWindow/rollingBuckets`` buckets of
    /// `length / 60` (rounded up to a millisecond). A call is allowed only if
    /// its cost plus every bucket that overlaps the window fits, so the
    /// guarantee is exact (never more than the limit in any window of that
    /// length); the approximation is on the safe side: a unit is forgotten up
    /// to one bucket (1/60 of the window) later than an exact log would, so a
    /// caller may be refused for at most that long after its units would fit.
    case rolling(Duration)

    /// How many buckets a rolling window is cut into.
    public static let rollingBuckets = 60

    /// The one-word description used in names and output: `day`, `rolling-60s`.
    public var label: String {
        switch self {
        case .calendar(let unit, _): unit.rawValue
        case .rolling(let length): "rolling-\(QuotaWindow.describe(length))"
        }
    }

    static func describe(_ length: Duration) -> String {
        let milliseconds = length.milliseconds
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    /// The rolling window's length in milliseconds and its bucket width.
    var rollingGeometry: (length: Int64, bucket: Int64)? {
        guard case .rolling(let length) = self else { return nil }
        let milliseconds = length.milliseconds
        let buckets = Int64(Self.rollingBuckets)
        return (milliseconds, (milliseconds + buckets - 1) / buckets)
    }
}

/// One limit of a ``Quota``: at most ``count`` units per ``window``, counted
/// for all calls (``perKey`` false) or separately for every key a call names.
public struct QuotaLimit: Sendable, Hashable {
    /// The limit's name, unique in its quota: 1 to 32 of `a-z`, `0-9`, `-`,
    /// `_`. It appears in storage keys and in ``QuotaDecision/deniedBy``.
    public var name: String
    /// Units allowed per window, 0…``APILimits/maximumCount``.
    public var count: Int
    /// Where the units are counted.
    public var window: QuotaWindow
    /// `true` when every key (tenant, user, API key) has its own count; a
    /// call to a quota with per-key limits must name a key.
    public var perKey: Bool

    /// A limit; `name` defaults to the window's label, followed by `-per-key` for per-key limits.
    public init(_ count: Int, per window: QuotaWindow, perKey: Bool = false, name: String? = nil) {
        self.count = count
        self.window = window
        self.perKey = perKey
        self.name = name ?? (window.label + (perKey ? "-per-key" : ""))
    }
}

/// A named set of limits that every call to one paid API is checked against
/// together: a call is counted in all of them or in none.
public struct Quota: Sendable, Hashable {
    /// The quota's name: 1 to 64 of `a-z`, `0-9`, `-`, `_`.
    public var name: String
    /// The limits, checked together; at least one.
    public var limits: [QuotaLimit]

    /// The name of the quota built from `RAPIDAPI_DAILY_LIMIT` and `RAPIDAPI_HOURLY_LIMIT`.
    public static let defaultName = "rapidapi"

    /// A quota; ``validate()`` checks it (every tracker does before use).
    public init(_ name: String, limits: [QuotaLimit]) {
        self.name = name
        self.limits = limits
    }

    /// The seed's quota: `daily` calls per calendar day and `hourly` per
    /// clock hour in `timeZone`, limits named `day` and `hour`.
    public static func rapidAPI(_ limits: APILimits, timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> Quota {
        Quota(defaultName, limits: [
            QuotaLimit(limits.daily, per: .calendar(.day, timeZone: timeZone), name: "day"),
            QuotaLimit(limits.hourly, per: .calendar(.hour, timeZone: timeZone), name: "hour"),
        ])
    }

    /// `true` when a call must name a key.
    public var needsKey: Bool { limits.contains(where: \.perKey) }

    /// Checks the names, counts and windows.
    ///
    /// - Throws: ``ScaleKitError`` `invalidConfiguration` naming the quota and the bad limit.
    public func validate() throws(ScaleKitError) {
        guard Self.isName(name, maximumLength: 64) else {
            throw ScaleKitError(.invalidConfiguration, "quota name \(Self.quoted(name)) must be 1 to 64 of a-z, 0-9, '-', '_'")
        }
        guard !limits.isEmpty else { throw ScaleKitError(.invalidConfiguration, "quota \(name) has no limits") }
        var seen: Set<String> = []
        for limit in limits {
            guard Self.isName(limit.name, maximumLength: 32) else {
                throw ScaleKitError(.invalidConfiguration, "quota \(name): limit name \(Self.quoted(limit.name)) must be 1 to 32 of a-z, 0-9, '-', '_'")
            }
            guard seen.insert(limit.name).inserted else {
                throw ScaleKitError(.invalidConfiguration, "quota \(name) has two limits named \(limit.name)")
            }
            guard (0...APILimits.maximumCount).contains(limit.count) else {
                throw ScaleKitError(.invalidConfiguration, "quota \(name): limit \(limit.name) = \(limit.count) is outside 0…\(APILimits.maximumCount)")
            }
            if case .rolling(let length) = limit.window {
                let milliseconds = length.milliseconds
                guard (1_000...31 * 86_400_000).contains(milliseconds), Duration.milliseconds(milliseconds) == length else {
                    throw ScaleKitError(.invalidConfiguration, "quota \(name): limit \(limit.name) has a rolling window of \(length); it must be whole milliseconds within 1 s…31 days")
                }
            }
        }
    }

    /// The limit named `name`.
    public func limit(named name: String) -> QuotaLimit? { limits.first { $0.name == name } }

    static func isName(_ value: String, maximumLength: Int) -> Bool {
        !value.isEmpty && value.utf8.count <= maximumLength
            && value.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F }
    }

    /// Checks a call's key: 1 to 128 of `A-Z a-z 0-9 . _ - @ + = /`.
    /// Anything else (braces, colons, spaces, control bytes) is refused, so
    /// a key can never change which storage key or Redis slot is touched.
    public static func validateKey(_ key: String) throws(ScaleKitError) {
        let allowed: Set<UInt8> = Set(".-_@+=/".utf8)
        guard !key.isEmpty, key.utf8.count <= 128,
            key.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || allowed.contains($0) })
        else {
            throw ScaleKitError(.invalidArgument, "quota key \(quoted(key)) must be 1 to 128 of A-Z, a-z, 0-9, '.', '_', '-', '@', '+', '=', '/'")
        }
    }

    /// A name as it may be shown in a message: at most 40 characters, control characters escaped.
    static func quoted(_ value: String) -> String {
        let shown = value.unicodeScalars.prefix(40).map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        return "\"\(shown)\(value.unicodeScalars.count > 40 ? "…" : "")\""
    }
}

/// One call to check and count: which quota, for which key, at what cost.
public struct QuotaRequest: Sendable, Hashable {
    /// The quota's name (``Quota/defaultName`` unless given).
    public var quota: String
    /// The tenant, user or API key; required when the quota has per-key limits.
    public var key: String?
    /// The units the call takes (characters, seconds of audio), 1…``APILimits/maximumCount``.
    public var cost: Int

    /// A request for `cost` units (1 by default) of `quota` (the default
    /// quota unless given) for `key`; checked by the tracker, not here.
    public init(quota: String = Quota.defaultName, key: String? = nil, cost: Int = 1) {
        self.quota = quota
        self.key = key
        self.cost = cost
    }
}

/// Where one limit of a quota stands.
public struct QuotaLimitStatus: Sendable, Hashable, Codable {
    /// The limit's name.
    public var name: String
    /// `day`, `hour`, `rolling-60s`, …
    public var window: String
    /// Whether the count is the key's own.
    public var perKey: Bool
    /// Units allowed per window.
    public var limit: Int
    /// Units counted in the current window.
    public var used: Int
    /// Units still allowed now (never negative).
    public var remaining: Int { max(0, limit - used) }
    /// Calendar: when the current window ends. Rolling: when everything
    /// counted now has left the window (`nil` when nothing is counted).
    public var resetsAt: Date?

    /// A status; trackers create these.
    public init(name: String, window: String, perKey: Bool, limit: Int, used: Int, resetsAt: Date?) {
        self.name = name
        self.window = window
        self.perKey = perKey
        self.limit = limit
        self.used = used
        self.resetsAt = resetsAt
    }

    enum CodingKeys: String, CodingKey { case name, window, perKey, limit, used, remaining, resetsAt }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try values.decode(String.self, forKey: .name), window: try values.decode(String.self, forKey: .window),
            perKey: try values.decode(Bool.self, forKey: .perKey), limit: try values.decode(Int.self, forKey: .limit),
            used: try values.decode(Int.self, forKey: .used), resetsAt: try values.decodeIfPresent(Date.self, forKey: .resetsAt))
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(name, forKey: .name)
        try values.encode(window, forKey: .window)
        try values.encode(perKey, forKey: .perKey)
        try values.encode(limit, forKey: .limit)
        try values.encode(used, forKey: .used)
        try values.encode(remaining, forKey: .remaining)
        try values.encodeIfPresent(resetsAt, forKey: .resetsAt)
    }
}

/// The totals of one quota since its data was created.
public struct QuotaTotals: Sendable, Hashable, Codable {
    /// Calls allowed and counted.
    public var calls = 0
    /// Calls refused by a limit.
    public var denied = 0
    /// Outcomes recorded as success.
    public var successes = 0
    /// Outcomes recorded as failure.
    public var failures = 0
    /// Calls given back by a refund or a released reservation.
    public var refunds = 0

    /// Totals with these counts (all zero by default).
    public init(calls: Int = 0, denied: Int = 0, successes: Int = 0, failures: Int = 0, refunds: Int = 0) {
        self.calls = calls
        self.denied = denied
        self.successes = successes
        self.failures = failures
        self.refunds = refunds
    }

    enum CodingKeys: String, CodingKey {
        case calls = "total_requests"
        case denied = "denied_requests"
        case successes = "successful_requests"
        case failures = "failed_requests"
        case refunds = "refunded_requests"
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        calls = try values.decodeIfPresent(Int.self, forKey: .calls) ?? 0
        denied = try values.decodeIfPresent(Int.self, forKey: .denied) ?? 0
        successes = try values.decodeIfPresent(Int.self, forKey: .successes) ?? 0
        failures = try values.decodeIfPresent(Int.self, forKey: .failures) ?? 0
        refunds = try values.decodeIfPresent(Int.self, forKey: .refunds) ?? 0
    }
}

/// A snapshot of one quota for one key.
public struct QuotaUsage: Sendable, Hashable, Codable {
    /// The quota's name.
    public var quota: String
    /// The key the per-key limits were read for (`nil`: only overall limits are meaningful).
    public var key: String?
    /// Every limit, in the quota's order.
    public var limits: [QuotaLimitStatus]
    /// The quota's totals (all keys together).
    public var totals: QuotaTotals

    /// A snapshot; trackers create these.
    public init(quota: String, key: String?, limits: [QuotaLimitStatus], totals: QuotaTotals) {
        self.quota = quota
        self.key = key
        self.limits = limits
        self.totals = totals
    }

    /// Units still allowed now: the smallest remaining of all limits.
    public var remaining: Int { limits.map(\.remaining).min() ?? 0 }

    /// The status of the limit named `name`.
    public func limit(_ name: String) -> QuotaLimitStatus? { limits.first { $0.name == name } }
}

/// The answer to ``APITracking/checkAndCount(_:)``.
public struct QuotaDecision: Sendable, Hashable {
    /// `true` when the call was allowed and its cost counted in every limit.
    public var isAllowed: Bool
    /// The limit that refused the call; `nil` when allowed. When several
    /// refuse, the one the caller must wait longest for.
    public var deniedBy: String?
    /// When a refused call of the same cost would fit in every limit that
    /// refused it (for a calendar window, its end; for a rolling one, when
    /// enough units have left it); `nil` when allowed, or when the cost is
    /// larger than a limit and never fits.
    public var retryAt: Date?
    /// Every limit right after the decision.
    public var usage: QuotaUsage
    /// What to hand to ``APITracking/refund(_:)`` to give the units back;
    /// `nil` when denied (nothing was counted).
    public var receipt: QuotaReceipt?

    /// A decision; trackers create these.
    public init(isAllowed: Bool, deniedBy: String?, retryAt: Date?, usage: QuotaUsage, receipt: QuotaReceipt?) {
        self.isAllowed = isAllowed
        self.deniedBy = deniedBy
        self.retryAt = retryAt
        self.usage = usage
        self.receipt = receipt
    }
}

/// What a refund, a release or a confirmation did.
public enum QuotaSettlement: String, Sendable, Hashable, Codable {
    /// The units were given back (refund, release) or kept for good (confirm).
    case settled
    /// The receipt was refunded, released or confirmed before: nothing changed.
    case alreadySettled
    /// Every window the units were counted in has ended: nothing to give back.
    case expired
}
