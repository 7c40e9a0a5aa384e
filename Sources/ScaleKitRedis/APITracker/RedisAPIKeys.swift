package import ScaleKit

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
/// | `{api_tracker}:stats` | hash: `total_requests`, `successful_requests`, `failed_requests`, `denied_requests`, `refunded_requests` | none (permanent totals) |
///
/// Those are the default quota's (``/ScaleKit/Quota/defaultName``). Every
/// other quota has its own hash tag, `{api_tracker:NAME}`, so one script
/// touches one slot whatever the quota; under a tag, the storage keys of
/// ``/ScaleKit/QuotaPlan`` follow (see Docs/Quotas.md):
///
/// | key | type | TTL |
/// |---|---|---|
/// | `{api_tracker:tts}:day:2026-11-29` | calendar counter | twice the window (at least a minute), set when created |
/// | `{api_tracker:tts}:day-per-key:2026-11-29:k:acme` | a key's calendar counter | twice the window |
/// | `{api_tracker:tts}:rolling-60s` | rolling buckets: hash, bucket index → units | twice the window (at least a minute), renewed on each count |
/// | `{api_tracker:tts}:reservations` | sorted set: receipt id by expiry (ms) | the longest hold plus the longest window, renewed |
/// | `{api_tracker:tts}:reserved` | hash: receipt id → what to give back | as `reservations` |
/// | `{api_tracker:tts}:settled:<id>` | marks a receipt refunded or released | twice the longest window |
/// | `{api_tracker:tts}:stats` | totals hash, as above | none (permanent totals) |
package struct RedisAPIKeys: Sendable, Hashable {
    /// The prefix inside braces: `{api_tracker}`.
    package let taggedPrefix: String

    /// The keys under `keyPrefix` (``/ScaleKit/APITrackerConfiguration/keyPrefix``).
    package init(keyPrefix: String) {
        taggedPrefix = "{\(keyPrefix)}"
    }

    /// The day counter of a window (`{api_tracker}:day:2026-11-29`).
    package func day(_ windows: APIWindows) -> String { "\(taggedPrefix):day:\(windows.dayName)" }
    /// The hour counter of a window (`{api_tracker}:hour:2026-11-29-08`).
    package func hour(_ windows: APIWindows) -> String { "\(taggedPrefix):hour:\(windows.hourName)" }
    /// The totals hash (`{api_tracker}:stats`).
    package var stats: String { "\(taggedPrefix):stats" }

    /// The hash tag of a quota: `{api_tracker}` for the default one, `{api_tracker:NAME}` for the others.
    package func tag(_ quota: String) -> String {
        quota == Quota.defaultName ? taggedPrefix : "{\(taggedPrefix.dropFirst().dropLast()):\(quota)}"
    }

    /// A quota's key for a ``/ScaleKit/QuotaPlan`` storage key (`{api_tracker}:day:2026-11-29`).
    package func key(_ quota: String, _ storageKey: String) -> String { "\(tag(quota)):\(storageKey)" }

    /// Field names of the totals hash, as in the seed (plus `denied_requests`).
    package enum StatsField {
        /// Calls allowed and counted.
        package static let total = "total_requests"
        /// Outcomes recorded as success.
        package static let successful = "successful_requests"
        /// Outcomes recorded as failure.
        package static let failed = "failed_requests"
        /// Calls refused by a limit.
        package static let denied = "denied_requests"
    }
}
