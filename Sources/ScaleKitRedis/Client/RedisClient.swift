public import Logging
public import Metrics
public import ScaleKit
public import ServiceLifecycle

/// A pool of connections to one server, shared by the trackers.
///
/// Built on the core ``/ScaleKit/ConnectionPool`` (QueuePool semantics: size,
/// overflow, FIFO waiting up to a timeout, recycle, pre-ping). Each call
/// leases one connection for its whole body, so a `WATCH` … `MULTI` … `EXEC`
/// sequence never interleaves with another caller's commands, and a
/// connection comes back with no transaction state left (`DISCARD`,
/// `UNWATCH`). Safe to share between tasks and trackers.
///
/// A `Service`: run it in a ServiceGroup to shut it down gracefully (it also
/// works without being run).
public final class RedisClient: Service, Sendable {
    /// The server and its timeouts.
    public let configuration: RedisConnectionConfiguration
    /// The connections. Package-internal: users read ``statistics()``.
    package let pool: ConnectionPool<RedisConnection>

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
        self.pool = ConnectionPool(configuration: pool, name: name, logger: logger, metricsFactory: metricsFactory) {
            try await RedisConnection.connect(configuration: configuration, logger: logger)
        }
    }

    /// A client for a `redis://` or `unix://` URL (see ``RedisConnectionConfiguration/init(url:connectTimeout:commandTimeout:tcpKeepAlive:)``).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidConfiguration`, or `unsupported` for `rediss://`.
    public convenience init(
        url: String, pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration,
        name: String = "scalekit.redis", logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ScaleKitError) {
        self.init(
            configuration: try RedisConnectionConfiguration(url: url), pool: pool, name: name, logger: logger,
            metricsFactory: metricsFactory)
    }

    /// Leases a connection for the duration of `body`.
    ///
    /// - Throws: what `body` throws; ``/ScaleKit/ScaleKitError`` `connectionFailed` or
    ///   `timeout` when no connection can be opened, `poolExhausted` when none
    ///   became free within the pool timeout, `poolShutDown` after ``shutdown()``.
    ///   A connection whose body failed with a transport error is closed, not reused.
    package func withConnection<R>(
        isolation: isolated (any Actor)? = #isolation, _ body: (RedisConnection) async throws -> R
    ) async throws -> R {
        try await pool.withConnection(isolation: isolation, body)
    }

    /// `PING` on a pooled connection: a liveness check for a health endpoint.
    public func ping() async throws {
        try await withConnection { connection in try await connection.ping() }
    }

    /// The pool's counts.
    public func statistics() -> ConnectionPoolStatistics { pool.statistics() }

    /// Service: runs until graceful shutdown, then closes every connection.
    public func run() async throws { try await pool.run() }

    /// Closes idle connections now and busy ones when they come back; later calls throw `poolShutDown`.
    public func shutdown() async { await pool.shutdown() }
}
