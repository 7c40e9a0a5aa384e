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

    public init(isAllowed: Bool, deniedBy: APILimitWindow?, usage: APIUsage) {
        self.isAllowed = isAllowed
        self.deniedBy = deniedBy
        self.usage = usage
    }
}
