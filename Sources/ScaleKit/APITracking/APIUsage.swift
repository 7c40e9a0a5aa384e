public import Foundation

/// The per-day and per-hour limits of an external API.
public struct APILimits: Sendable, Hashable, Codable {
    /// Calls allowed per calendar day (`RAPIDAPI_DAILY_LIMIT`, default 100).
    public var daily: Int
    /// Calls allowed per clock hour (`RAPIDAPI_HOURLY_LIMIT`, default 20).
    public var hourly: Int

    /// The largest limit and the largest count any backend keeps: 2^53 − 1,
    /// the largest whole number JSON readers and Redis's Lua hold exactly.
    public static let maximumCount = 9_007_199_254_740_991

    /// The seed's defaults: 100 a day, 20 an hour.
    public static let `default` = APILimits(daily: 100, hourly: 20)

    /// - Precondition: both limits are within 0…``maximumCount`` (the
    ///   configuration reader turns any other value into a typed error before this).
    public init(daily: Int, hourly: Int) {
        precondition((0...Self.maximumCount).contains(daily) && (0...Self.maximumCount).contains(hourly), "API limits must be within 0...2^53-1")
        self.daily = daily
        self.hourly = hourly
    }
}

/// A snapshot of an API tracker's counters.
public struct APIUsage: Sendable, Hashable, Codable {
    /// Calls counted in the current day window.
    public var dayCount: Int
    /// Calls counted in the current hour window.
    public var hourCount: Int
    /// The limits in force.
    public var limits: APILimits
    /// Calls allowed and counted since the tracker's data was created.
    public var totalCalls: Int
    /// Outcomes recorded as success.
    public var successes: Int
    /// Outcomes recorded as failure.
    public var failures: Int
    /// Calls denied by a limit.
    public var denied: Int
    /// When the day window ends.
    public var dayResetsAt: Date
    /// When the hour window ends.
    public var hourResetsAt: Date

    /// A snapshot; trackers create these.
    public init(
        dayCount: Int, hourCount: Int, limits: APILimits, totalCalls: Int,
        successes: Int, failures: Int, denied: Int, dayResetsAt: Date, hourResetsAt: Date
    ) {
        self.dayCount = dayCount
        self.hourCount = hourCount
        self.limits = limits
        self.totalCalls = totalCalls
        self.successes = successes
        self.failures = failures
        self.denied = denied
        self.dayResetsAt = dayResetsAt
        self.hourResetsAt = hourResetsAt
    }

    /// The seed's view of the default quota's usage (limits `day` and `hour`).
    public init(_ usage: QuotaUsage) {
        let day = usage.limit("day"), hour = usage.limit("hour")
        self.init(
            dayCount: day?.used ?? 0, hourCount: hour?.used ?? 0,
            limits: APILimits(daily: day?.limit ?? 0, hourly: hour?.limit ?? 0), totalCalls: usage.totals.calls,
            successes: usage.totals.successes, failures: usage.totals.failures, denied: usage.totals.denied,
            dayResetsAt: day?.resetsAt ?? Date(timeIntervalSince1970: 0), hourResetsAt: hour?.resetsAt ?? Date(timeIntervalSince1970: 0))
    }

    /// Calls still allowed today (never negative).
    public var remainingToday: Int { max(0, limits.daily - dayCount) }
    /// Calls still allowed this hour (never negative).
    public var remainingThisHour: Int { max(0, limits.hourly - hourCount) }
    /// Calls still allowed now: the smaller of the two.
    public var remaining: Int { min(remainingToday, remainingThisHour) }
}

/// Settings shared by every API tracker backend.
public struct APITrackerConfiguration: Sendable, Hashable {
    /// The limits to enforce.
    public var limits: APILimits
    /// The time zone whose calendar days and hours are the windows (UTC).
    public var timeZone: TimeZone
    /// The prefix of every key or record (`api_tracker`, as in the seed).
    public var keyPrefix: String
    /// Quotas besides the default one (``Quota/defaultName``, built from ``limits`` and ``timeZone``).
    public var extraQuotas: [Quota]

    /// Settings with the seed's defaults: ``APILimits/default``, UTC windows,
    /// the `api_tracker` prefix and no extra quotas.
    public init(limits: APILimits = .default, timeZone: TimeZone = TimeZone(identifier: "UTC")!, keyPrefix: String = "api_tracker", extraQuotas: [Quota] = []) {
        self.limits = limits
        self.timeZone = timeZone
        self.keyPrefix = keyPrefix
        self.extraQuotas = extraQuotas
    }

    /// Every quota: the default first, then ``extraQuotas``.
    public var quotas: [Quota] { [Quota.rapidAPI(limits, timeZone: timeZone)] + extraQuotas }

    /// The quota named `name`, validated.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` when there is none;
    ///   `invalidConfiguration` when it is malformed or defined twice.
    public func quota(named name: String) throws(ScaleKitError) -> Quota {
        // Called on every tracker call: no array of every quota is built for it.
        var found = name == Quota.defaultName ? Quota.rapidAPI(limits, timeZone: timeZone) : nil
        for quota in extraQuotas where quota.name == name {
            guard found == nil else { throw ScaleKitError(.invalidConfiguration, "quota \(name) is defined more than once") }
            found = quota
        }
        guard let quota = found else {
            throw ScaleKitError(
                .invalidArgument, "no quota named \(Quota.quoted(name)); known: \(quotas.map(\.name).joined(separator: ", "))")
        }
        try quota.validate()
        return quota
    }
}

extension TimeZone {
    /// Coordinated Universal Time.
    package static let utc = TimeZone(identifier: "UTC")!
}
