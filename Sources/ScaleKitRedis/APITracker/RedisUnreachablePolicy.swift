/// What ``RedisAPITracker`` answers when Redis cannot be reached
/// (`connectionFailed`, `timeout` or `poolExhausted`).
public enum RedisUnreachablePolicy: Sendable, Hashable {
    /// Throw the ``/ScaleKit/ScaleKitError``: a paid quota is never overrun.
    /// The default.
    case failClosed
    /// Allow the call without counting it and log a warning: the service
    /// keeps working while Redis is down, at the risk of going over the limits.
    /// `recordOutcome` then drops the outcome with a warning; `usage()` still throws.
    case failOpen
}
