/// How many times a video is attempted and how long a failed one waits
/// before the next attempt.
///
/// Every repository applies the same policy (``ClaimRules``): a failure or
/// an expired lease of the attempt numbered ``maxAttempts`` makes the video
/// ``VideoState/abandoned`` (terminal) instead of retryable; an earlier one
/// makes it ``VideoState/failed`` and claimable from `now + backoff(attempt)`.
public struct ClaimPolicy: Sendable, Hashable {
    /// The default cap: 5 attempts.
    public static let defaultMaxAttempts = 5
    /// The largest cap accepted; more is certainly a typo.
    public static let maximumMaxAttempts = 1_000

    /// Attempts (claims that started processing) before a video is abandoned (`SCALEKIT_MAX_ATTEMPTS`, 5).
    public var maxAttempts: Int
    /// The wait before the second attempt; doubles with every further attempt
    /// (`SCALEKIT_RETRY_BACKOFF`, seconds; zero: retry at once).
    public var retryBackoff: Duration
    /// The longest wait between two attempts, whatever the doubling gives.
    public var maxRetryBackoff: Duration

    /// A policy; values are clamped to the accepted ranges (at least one attempt, no negative wait).
    public init(maxAttempts: Int = defaultMaxAttempts, retryBackoff: Duration = .zero, maxRetryBackoff: Duration = .seconds(3600)) {
        self.maxAttempts = min(max(1, maxAttempts), Self.maximumMaxAttempts)
        self.retryBackoff = max(.zero, retryBackoff)
        self.maxRetryBackoff = max(.zero, maxRetryBackoff)
    }

    /// The wait after attempt number `attempt` failed: `retryBackoff × 2^(attempt − 1)`, at most ``maxRetryBackoff``.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        guard retryBackoff > .zero else { return .zero }
        let doublings = min(max(0, attempt - 1), 40)  // 2^40 × a microsecond is already 12 days
        let seconds = retryBackoff.timeInterval * Double(1 << doublings)
        return seconds >= maxRetryBackoff.timeInterval ? maxRetryBackoff : .microseconds(Int64((seconds * 1e6).rounded()))
    }

    /// ``backoff(afterAttempt:)`` in whole microseconds, as the SQL backends bind it.
    package var retryBackoffMicroseconds: Int64 { Int64((retryBackoff.timeInterval * 1e6).rounded()) }
    package var maxRetryBackoffMicroseconds: Int64 { Int64((maxRetryBackoff.timeInterval * 1e6).rounded()) }
}

/// Whose clock decides leases, expiry, backoff and takeover.
///
/// A worker's clock only says how long a lease it asks for: the instants are
/// the database's, so a worker whose clock runs an hour fast cannot take over
/// a live lease, and one an hour slow still takes over an expired one.
public enum LeaseTimeSource: Sendable {
    /// The database's own clock (PostgreSQL's `statement_timestamp()`,
    /// SQLite's `'now'` on its one machine). The default.
    case database
    /// This clock, trusted as if it were the database's: for tests that move
    /// time by hand (`ManualWallClock`), never for a fleet.
    case clock(any WallClock)
}
