/// Counts calls to a rate-limited external API against a per-day and a
/// per-hour limit, shared by every worker that uses the same backend.
///
/// Windows are calendar days and hours in ``APITrackerConfiguration/timeZone``
/// (UTC unless configured otherwise): the day window resets at midnight, the
/// hour window at the top of each hour. Counters expire by themselves after
/// their window has passed (two days for a day, two hours for an hour).
///
/// Every method may block on I/O (a file lock, a network round trip); none
/// runs blocking work on Swift's cooperative thread pool.
public protocol APITracking: Sendable {
    /// Atomically checks both limits and, if neither is reached, counts the
    /// call in the day and the hour window.
    ///
    /// Atomic across every process sharing the backend: with an hourly limit
    /// of 20, any number of concurrent callers get exactly 20 allowed
    /// decisions in an hour. A denied call is not counted.
    ///
    /// - Throws: ``ScaleKitError`` when the backend cannot be reached or its
    ///   data is corrupt. A backend configured to fail open returns an allowed
    ///   decision instead (see its documentation).
    func checkAndCount() async throws -> APICallDecision

    /// Records the outcome of a call that ``checkAndCount()`` allowed, for the
    /// success and failure totals. Does not change the window counts.
    func recordOutcome(_ outcome: APICallOutcome) async throws

    /// A snapshot of the counters, limits and window resets.
    func usage() async throws -> APIUsage

    /// The quotas this tracker knows, the default (``Quota/defaultName``) first.
    var quotas: [Quota] { get }

    /// Atomically checks every limit of the request's quota (overall and
    /// the key's own) for its cost and, if all of the cost fits in every
    /// one, counts it in all of them; otherwise counts it in none.
    ///
    /// The old ``checkAndCount()`` is this call for the default quota.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota,
    ///   a bad key, a missing key where the quota has per-key limits, or a
    ///   cost outside 1…``APILimits/maximumCount``; otherwise as ``checkAndCount()``.
    func checkAndCount(_ request: QuotaRequest) async throws -> QuotaDecision

    /// Like ``checkAndCount(_:)``, and the allowed units stay reserved until
    /// ``confirm(_:)`` keeps them or ``refund(_:)`` releases them; past
    /// `holdFor` they are released by themselves, so a worker that dies
    /// holding a reservation leaks nothing.
    func reserve(_ request: QuotaRequest, holdFor: Duration) async throws -> QuotaDecision

    /// Keeps a reservation's units for good. `.expired` when it was released by its expiry.
    func confirm(_ receipt: QuotaReceipt) async throws -> QuotaSettlement

    /// Gives the units of a counted call (or a reservation) back, exactly
    /// once: a second refund of the same receipt is `.alreadySettled` and
    /// changes nothing; a receipt whose windows have all ended is `.expired`.
    func refund(_ receipt: QuotaReceipt) async throws -> QuotaSettlement

    /// Tells the tracker what the provider reports as left on one limit
    /// (for example RapidAPI's `x-ratelimit-requests-remaining`): the
    /// limit's current count becomes `limit - remaining` (at least 0), and
    /// later decisions start from it.
    func reconcile(quota: String, limit: String, key: String?, remaining: Int) async throws -> QuotaUsage

    /// Every limit of a quota, for `key` (required when it has per-key limits).
    func usage(quota: String, key: String?) async throws -> QuotaUsage

    /// Records a call's outcome in a quota's totals.
    func recordOutcome(_ outcome: APICallOutcome, quota: String) async throws
}

extension APITracking {
    /// Only the default quota, for trackers that predate named quotas.
    public var quotas: [Quota] { [] }

    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func checkAndCount(_ request: QuotaRequest) async throws -> QuotaDecision { throw Self.noQuotas() }
    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func reserve(_ request: QuotaRequest, holdFor: Duration) async throws -> QuotaDecision { throw Self.noQuotas() }
    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func confirm(_ receipt: QuotaReceipt) async throws -> QuotaSettlement { throw Self.noQuotas() }
    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func refund(_ receipt: QuotaReceipt) async throws -> QuotaSettlement { throw Self.noQuotas() }
    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func reconcile(quota: String, limit: String, key: String?, remaining: Int) async throws -> QuotaUsage { throw Self.noQuotas() }
    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func usage(quota: String, key: String?) async throws -> QuotaUsage { throw Self.noQuotas() }
    /// For a tracker that counts only the default quota: always throws
    /// ``ScaleKitError`` `unsupported`.
    public func recordOutcome(_ outcome: APICallOutcome, quota: String) async throws { throw Self.noQuotas() }

    private static func noQuotas() -> ScaleKitError {
        ScaleKitError(.unsupported, "\(Self.self) counts only the default API quota")
    }
}

/// The seed's API (one quota, a day and an hour limit) is the default quota
/// of a tracker that implements named quotas: one implementation, two views.
extension APITracking {
    /// ``checkAndCount(_:)`` for the default quota, no key, cost 1.
    public func checkAndCount() async throws -> APICallDecision {
        let decision = try await checkAndCount(QuotaRequest())
        return APICallDecision(
            isAllowed: decision.isAllowed, deniedBy: decision.deniedBy.flatMap(APILimitWindow.init(rawValue:)),
            usage: APIUsage(decision.usage))
    }

    /// ``recordOutcome(_:quota:)`` for the default quota.
    public func recordOutcome(_ outcome: APICallOutcome) async throws {
        try await recordOutcome(outcome, quota: Quota.defaultName)
    }

    /// ``usage(quota:key:)`` of the default quota.
    public func usage() async throws -> APIUsage {
        APIUsage(try await usage(quota: Quota.defaultName, key: nil))
    }
}

/// Whether an external API call succeeded.
public enum APICallOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case success
    case failure
}

/// The window a limit applies to.
public enum APILimitWindow: String, Sendable, Hashable, Codable, CaseIterable {
    case day
    case hour
}

/// The answer of ``APITracking/checkAndCount()``.
public struct APICallDecision: Sendable, Hashable {
    /// `true` when the call was allowed and counted.
    public var isAllowed: Bool
    /// The window whose limit denied the call; `nil` when allowed. When both
    /// limits are reached, the day wins (it resets later).
    public var deniedBy: APILimitWindow?
    /// The counters right after this decision.
    public var usage: APIUsage

    /// A decision; trackers create these.
    public init(isAllowed: Bool, deniedBy: APILimitWindow?, usage: APIUsage) {
        self.isAllowed = isAllowed
        self.deniedBy = deniedBy
        self.usage = usage
    }
}
