public import ScaleKit

/// The Redis keys of one API tracker; see Docs/Redis.md.
///
/// Every key starts with the configuration's key prefix in a hash tag
/// (`{api_tracker}`), so the keys one script touches hash to one Redis
/// Cluster slot:
///
/// | key | type | TTL |
/// |---|---|---|
/// | `{api_tracker}:day:2026-11-29` | integer counter | 2 days, set when created |
/// | `{api_tracker}:hour:2026-11-29-08` | integer counter | 2 hours, set when created |
/// | `{api_tracker}:stats` | hash: `total_requests`, `successful_requests`, `failed_requests`, `denied_requests` | none (permanent totals) |
public struct RedisAPIKeys: Sendable, Hashable {
    /// The prefix inside braces: `{api_tracker}`.
    public let taggedPrefix: String

    /// The keys under `keyPrefix` (``/ScaleKit/APITrackerConfiguration/keyPrefix``).
    public init(keyPrefix: String) {
        taggedPrefix = "{\(keyPrefix)}"
    }

    /// The day counter of a window (`{api_tracker}:day:2026-11-29`).
    public func day(_ windows: APIWindows) -> String { "\(taggedPrefix):day:\(windows.dayName)" }
    /// The hour counter of a window (`{api_tracker}:hour:2026-11-29-08`).
    public func hour(_ windows: APIWindows) -> String { "\(taggedPrefix):hour:\(windows.hourName)" }
    /// The totals hash (`{api_tracker}:stats`).
    public var stats: String { "\(taggedPrefix):stats" }

    /// Field names of the totals hash, as in the seed (plus `denied_requests`).
    public enum StatsField {
        /// Calls allowed and counted.
        public static let total = "total_requests"
        /// Outcomes recorded as success.
        public static let successful = "successful_requests"
        /// Outcomes recorded as failure.
        public static let failed = "failed_requests"
        /// Calls refused by a limit.
        public static let denied = "denied_requests"
    }
}
