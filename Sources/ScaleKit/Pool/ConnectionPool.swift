public import Logging
public import Metrics
public import ServiceLifecycle

/// A pool of connections with SQLAlchemy QueuePool semantics, shared by the
/// Redis and PostgreSQL backends.
///
/// - `size` connections are kept; under load up to `maxOverflow` more are
///   opened, and a returned connection is closed when `size` are already idle.
/// - With every connection busy and no overflow room, callers wait first come
///   first served for up to `timeout`, then get ``ScaleKitError/Code/poolExhausted``.
///   A connection that cannot be opened fails the checkout at once with the
///   factory's error (usually ``ScaleKitError/Code/connectionFailed``): a
///   database that is down never looks like a 30-second hang.
/// - Connections older than `recycle` (jittered) are replaced at checkout;
///   connections idle longer than `prePingIdleThreshold` are pinged first,
///   and one that fails its ping is replaced without the caller noticing.
/// - A connection whose use failed with a connection-level error is closed;
///   on a disconnect, every connection opened before it is replaced at its
///   next checkout.
///
/// The decisions are made by a pure state machine under one `Mutex`; the
/// pool does the I/O (open, ping, reset, close) outside the lock, on the
/// caller's task, so no background task is needed and none can leak.
/// Statistics and swift-metrics gauges are exact after every step.
/// Docs/Pool.md describes the settings, sizing, errors and metric names.
///
/// As a ServiceLifecycle `Service`, ``run()`` waits for graceful shutdown and
/// then shuts the pool down. The pool also works without being run.
public final class ConnectionPool<Connection: PooledConnection>: Service, Sendable {
    let core: PoolCore

    /// Creates a pool; no connection is opened until the first checkout.
    ///
    /// - Parameters:
    ///   - configuration: Size, overflow, timeout, recycle and pre-ping settings.
    ///   - name: Prefix of the metric labels (`<name>.pool.checked_out`) and the
    ///     pool's name in errors and logs, e.g. `scalekit.redis`.
    ///   - logger: Receives the configuration, connection failures, replacements and shutdown.
    ///   - clock: Decides when waiters time out and how old connections are;
    ///     tests pass a manual clock (ScaleKitTesting's `ManualClock`).
    ///   - metricsFactory: Where the gauges and counters go; the global
    ///     `MetricsSystem` by default.
    ///   - factory: Opens one connection; throws (typically
    ///     ``ScaleKitError/Code/connectionFailed``) when it cannot.
    public init<PoolClockType: Clock>(
        configuration: ConnectionPoolConfiguration, name: String,
        logger: Logger = .current,
        clock: PoolClockType = ContinuousClock(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        factory: @escaping @Sendable () async throws -> Connection
    ) where PoolClockType.Duration == Duration {
        core = PoolCore(
            configuration: configuration, name: name, logger: logger, clock: PoolClock(clock),
            metricsFactory: metricsFactory, factory: { try await factory() })
    }

    /// The settings in force.
    public var configuration: ConnectionPoolConfiguration { core.configuration }
    /// The metrics label prefix and the name used in errors and logs.
    public var name: String { core.name }

    /// Leases one connection for the duration of `body`. Waits up to `timeout` (FIFO) when all are busy, then throws
    /// ScaleKitError(.poolExhausted) naming size/overflow/timeout. A factory failure throws at once (code from the factory,
    /// typically .connectionFailed). Whether `body` returned or threw, the connection comes back through
    /// ``PooledConnection/prepareForReuse()``, and its answer alone decides whether it is kept: a server-side
    /// `statement_timeout` keeps a healthy connection, a timed-out read does not. A connection that refuses after
    /// `body` threw `connectionFailed` also marks every connection created before it stale.
    ///
    /// The connection is returned on every path, so it cannot leak; do not
    /// let it escape `body`. Throws ``ScaleKitError/Code/poolShutDown`` after
    /// ``shutdown()``, and ``ScaleKitError/Code/cancelled`` when the task is
    /// cancelled while waiting (its place in the queue is given up). A body
    /// that throws `cancelled` (the backend stopped its C call when the task
    /// was cancelled) returns its connection through `prepareForReuse()`,
    /// which reuses it or refuses it, so a half-finished one is never handed out.
    /// `body` runs in the caller's isolation.
    public func withConnection<R>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Connection) async throws -> R
    ) async throws -> R {
        let lease = try await core.checkout()
        // The core holds only connections this pool's factory returned.
        let connection = lease.connection as! Connection
        let result: R
        do {
            result = try await body(connection)
        } catch {
            await core.checkin(lease, after: error)
            throw error
        }
        await core.checkin(lease, after: nil)
        return result
    }

    /// A consistent snapshot of the pool's counts (one lock acquisition, never blocks on I/O).
    public func statistics() -> ConnectionPoolStatistics {
        core.statistics()
    }

    /// Service: runs until graceful shutdown (or cancellation), then shuts the
    /// pool down as ``shutdown()`` does. Never throws.
    ///
    /// While it runs, one timer expires waiting callers for the whole pool;
    /// without it each waiting caller keeps a timer of its own, which works
    /// the same but costs more when many callers wait.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.core.runTimers() }
            // Throws only when cancelled; either way it is time to shut down.
            try? await gracefulShutdown()
            await core.shutdown()
            group.cancelAll()
        }
    }

    /// New checkouts throw .poolShutDown; idle closed now, busy ones when returned.
    ///
    /// Waiting callers fail with ``ScaleKitError/Code/poolShutDown`` at once.
    /// Returns when every connection is closed, or early when the calling
    /// task is cancelled (connections still out are then closed as they come
    /// back). Calling it again just waits again. Do not call it from inside
    /// `withConnection`: it would wait for its own connection.
    public func shutdown() async {
        await core.shutdown()
    }
}
