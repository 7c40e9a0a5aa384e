/// Any `Clock` measured in `Duration`, seen as offsets from the pool's start.
///
/// The state machine works with plain `Duration` offsets, so the pool type
/// needs no clock generic parameter (`ConnectionPool<RedisConnection>` stays
/// the whole type) while tests still inject a manual clock.
struct PoolClock: Sendable {
    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleeper = { offset in try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil) }
    }

    /// Time since the pool started.
    func now() -> Duration { elapsed() }

    /// Sleeps until `offset` after the pool's start; throws when cancelled.
    func sleep(until offset: Duration) async throws { try await sleeper(offset) }
}
