/// The clock a ``RedisAPITracker`` follows for rolling windows and reservation expiries.
public enum RedisTimeSource: Sendable, Hashable {
    /// The Redis server's `TIME`, read inside each script: every worker sees
    /// one timeline, whatever its own clock says. The default.
    case server
    /// The tracker's `clock`, sent with each call: for tests with a manual clock.
    case trackerClock
}
