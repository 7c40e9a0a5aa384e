public import Logging
public import Metrics
public import ScaleKit
public import ServiceLifecycle
import Synchronization

/// Connections to one Redis server, or to every master of a Redis Cluster,
/// shared by the trackers.
///
/// Two kinds, per server (for a cluster: per master):
/// - one multiplexed connection that every task shares, for the trackers'
///   scripts and single commands: calls that arrive together go out in one
///   write and their replies come back in order (auto-pipelining), driven by
///   one event-loop thread for the whole process (Docs/Redis.md, "Transport");
/// - a pool on the core ``/ScaleKit/ConnectionPool`` (QueuePool semantics:
///   size, overflow, FIFO waiting up to a timeout, recycle, pre-ping) for
///   what needs a connection to itself: each lease holds one connection for
///   its whole body, so a `WATCH` … `MULTI` … `EXEC` sequence never
///   interleaves with another caller's commands, and a connection comes back
///   with no transaction state left (`DISCARD`, `UNWATCH`).
///
/// Safe to share between tasks and trackers.
///
/// With a ``RedisClusterConfiguration`` each call goes to the master serving
/// its key's slot and follows `MOVED`, `ASK` and failovers (see Docs/Redis.md).
///
/// A `Service`: run it in a ServiceGroup to shut it down gracefully (it also
/// works without being run).
public final class RedisClient: Service, Sendable {
    /// The server and its timeouts (for a cluster: the credentials and timeouts every node's connections use).
    public let configuration: RedisConnectionConfiguration
    /// The cluster's seeds and redirection limits, or `nil` for a single server.
    public let cluster: RedisClusterConfiguration?
    private let backend: Backend
    /// Set by ``shutdown()``: the shared connection refuses calls from then on.
    private let isShutDown = Atomic<Bool>(false)

    private enum Backend: Sendable {
        case server(ConnectionPool<RedisConnection>, RedisMultiplexedConnection)
        case cluster(RedisClusterRouter)
    }

    /// The pool settings used when none are given: 10 kept, 20 overflow, and
    /// a 5 s wait for a free connection (a Redis call should not wait the
    /// database pool's 30 s before failing or failing open).
    public static let defaultPoolConfiguration = ConnectionPoolConfiguration(size: 10, maxOverflow: 20, timeout: .seconds(5))

    /// A client for `configuration`. Opens no connection until the first call.
    ///
    /// - Parameters:
    ///   - configuration: the server and its timeouts.
    ///   - pool: the pool's size, overflow and timeout.
    ///   - name: the pool's name: the prefix of its metrics (`<name>.pool.checked_out`)
    ///     and its name in errors and logs. Give each client of a process its own.
    ///   - logger: receives the pool's and the connections' events; the task-local
    ///     `Logger.current` unless given.
    ///   - metricsFactory: where the pool's gauges and counters go.
    public init(
        configuration: RedisConnectionConfiguration, pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration,
        name: String = "scalekit.redis", logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.configuration = configuration
        self.cluster = nil
        self.backend = .server(
            ConnectionPool(configuration: pool, name: name, logger: logger, metricsFactory: metricsFactory) {
                try await RedisConnection.connect(configuration: configuration, logger: logger)
            },
            RedisMultiplexedConnection(configuration: configuration, logger: logger))
    }

    /// A client for a Redis Cluster. Opens no connection until the first call,
    /// which loads the slot map from the seeds.
    ///
    /// - Parameters:
    ///   - cluster: the seed nodes and how far a call follows redirections and failovers.
    ///   - configuration: the user, password, timeouts and keepalive of every
    ///     node's connections; its endpoint is not used.
    ///   - pool: the size, overflow and timeout of each master's pool.
    ///   - name: the prefix of each master's pool name (`<name>.<host>_<port>`).
    ///   - logger: receives the pools' and the connections' events.
    ///   - metricsFactory: where the pools' gauges and counters go.
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidConfiguration`` when the
    ///   configuration selects a database other than 0 (a cluster has only 0)
    ///   or names no seed.
    public init(
        cluster: RedisClusterConfiguration, configuration: RedisConnectionConfiguration,
        pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration, name: String = "scalekit.redis",
        logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ScaleKitError) {
        guard configuration.database == 0 else {
            throw ScaleKitError(
                .invalidConfiguration, "a Redis Cluster has only database 0, but \(configuration) selects \(configuration.database)")
        }
        guard !cluster.seeds.isEmpty else { throw ScaleKitError(.invalidConfiguration, "a Redis Cluster client needs at least one seed node") }
        self.configuration = configuration
        self.cluster = cluster
        self.backend = .cluster(
            RedisClusterRouter(
                cluster: cluster, template: configuration, pool: pool, name: name, logger: logger, metricsFactory: metricsFactory))
    }

    /// A client for a `redis://` or `unix://` URL (see ``RedisConnectionConfiguration/init(url:connectTimeout:commandTimeout:tcpKeepAlive:)``).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidConfiguration` for a URL it cannot read.
    public convenience init(
        url: String, pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration,
        name: String = "scalekit.redis", logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ScaleKitError) {
        self.init(
            configuration: try RedisConnectionConfiguration(url: url), pool: pool, name: name, logger: logger,
            metricsFactory: metricsFactory)
    }

    /// Leases a connection for the duration of `body`: for a cluster, one to
    /// the master serving `routingKey`'s slot (any master when it is `nil`).
    ///
    /// For a cluster, `body` runs again when its command was redirected
    /// (`MOVED`, `ASK`: it did not run) or when nothing could be sent during a
    /// failover; its commands must touch `routingKey`'s slot only.
    ///
    /// - Throws: what `body` throws; ``/ScaleKit/ScaleKitError`` `connectionFailed` or
    ///   `timeout` when no connection can be opened, `poolExhausted` when none
    ///   became free within the pool timeout, `poolShutDown` after ``shutdown()``.
    ///   A connection whose body failed with a transport error is closed, not reused.
    package func withConnection<R>(
        routingKey: RedisArgument? = nil, isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisConnection) async throws -> R
    ) async throws -> R {
        switch backend {
        case .server(let pool, _):
            return try await pool.withConnection(isolation: isolation, body)
        case .cluster(let router):
            return try await router.withConnection(slot: routingKey.map { RedisHashSlot.of($0.bytes) }, isolation: isolation, body)
        }
    }

    /// Runs `body` with the connection every task shares (for a cluster: the
    /// one to the master serving `routingKey`'s slot): commands from many
    /// tasks go out together in one write (auto-pipelining), and a call's own
    /// commands stay back to back. For anything that needs a connection to
    /// itself (`WATCH`/`MULTI`/`EXEC`, blocking commands) use
    /// ``withConnection(routingKey:isolation:_:)``.
    ///
    /// For a cluster, `body` runs again after a redirection or when nothing
    /// could be sent during a failover, as with `withConnection`.
    ///
    /// - Throws: what `body` throws; `poolShutDown` after ``shutdown()``.
    package func withExecutor<R>(
        routingKey: RedisArgument? = nil, isolation: isolated (any Actor)? = #isolation,
        _ body: (any RedisCommandExecutor) async throws -> R
    ) async throws -> R {
        switch backend {
        case .server(_, let connection):
            if isShutDown.load(ordering: .acquiring) {
                throw ScaleKitError(.poolShutDown, "the Redis client for \(configuration) was shut down")
            }
            return try await body(connection)
        case .cluster(let router):
            return try await router.withExecutor(slot: routingKey.map { RedisHashSlot.of($0.bytes) }, isolation: isolation, body)
        }
    }

    /// The thread that reads and writes every multiplexed Redis connection
    /// of the process, as a task executor.
    ///
    /// A reply normally resumes its task on Swift's cooperative pool, which
    /// costs a thread wake-up on top of the loop's own. A task that runs
    /// with this executor as its preference,
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(RedisClient.eventLoopExecutor) {
    ///     for job in jobs { try await tracker.checkAndCount() … }
    /// }
    /// ```
    ///
    /// is resumed on the loop's thread in the same turn that read its reply:
    /// one wake-up per call, as a C client's loop has. Worth it for one task
    /// that makes many calls in a row and little else. The task's own code
    /// then runs on the loop's thread too, and delays every connection's I/O
    /// while it does, so keep CPU-heavy or blocking work out of it.
    public static var eventLoopExecutor: any TaskExecutor { RedisEventLoop.shared }

    /// `PING` on a pooled connection (for a cluster: on one master): a liveness check for a health endpoint.
    public func ping() async throws {
        try await withConnection { connection in try await connection.ping() }
    }

    /// The cluster's slot map, loaded now from its nodes; `nil` for a single server.
    package func clusterTopology() async throws(ScaleKitError) -> RedisClusterTopology? {
        guard case .cluster(let router) = backend else { return nil }
        return try await router.refresh()
    }

    /// The pool's counts (for a cluster: every master's pool added up).
    public func statistics() -> ConnectionPoolStatistics {
        switch backend {
        case .server(let pool, _): return pool.statistics()
        case .cluster(let router): return router.statistics()
        }
    }

    /// Service: runs until graceful shutdown, then closes every connection.
    public func run() async throws {
        switch backend {
        case .server(let pool, let connection):
            try await pool.run()
            isShutDown.store(true, ordering: .releasing)
            connection.close()
        case .cluster(let router):
            try? await gracefulShutdown()
            await router.shutdown()
        }
    }

    /// Closes idle connections now and busy ones when they come back; later calls throw `poolShutDown`.
    public func shutdown() async {
        switch backend {
        case .server(let pool, let connection):
            isShutDown.store(true, ordering: .releasing)
            connection.close()
            await pool.shutdown()
        case .cluster(let router): await router.shutdown()
        }
    }
}
