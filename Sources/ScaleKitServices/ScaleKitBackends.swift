public import Logging
public import Metrics
public import ScaleKit
public import ServiceLifecycle

/// The backends a service uses, picked from a ``/ScaleKit/ScaleKitConfiguration``.
///
/// With `REDIS_URL` set, API and status tracking use Redis; without it the
/// API tracker uses a file (safe across the processes of one machine) and
/// the status tracker this process's memory. `DATABASE_URL` picks PostgreSQL
/// or SQLite for videos; without it, SQLite in the working directory.
///
/// Pools are long-running ``services``: run them in your ServiceGroup, or use
/// ``withBackends(_:needs:logger:metricsFactory:metricsPrefix:_:)`` which runs and shuts them down for you.
public struct ScaleKitBackends: Sendable {
    /// Counts calls to the rate-limited API: Redis with `REDIS_URL`, otherwise
    /// the file tracker. Check and count is atomic across every worker that
    /// shares the backend.
    public var apiTracker: any APITracking
    /// Job statuses: Redis with `REDIS_URL`, otherwise this process's memory
    /// (not shared with other processes).
    public var statusTracker: any StatusTracking
    /// Video claims: PostgreSQL or SQLite, as `DATABASE_URL` says (SQLite in
    /// the working directory without it). A claim is atomic across every worker
    /// that shares the database.
    public var videos: any VideoRepository
    /// What was picked for each primitive and why.
    public var choices: [BackendChoice]
    /// Long-running parts (connection pools) to run in a ServiceGroup.
    public var services: [any Service]
    /// Liveness checks of the servers behind the backends, for a health endpoint.
    public var healthChecks: [HealthCheck]
    /// The connection pools behind the backends (`redis`, `postgresql`), for
    /// monitoring: each reads a consistent ``/ScaleKit/ConnectionPoolStatistics`` snapshot.
    public var pools: [PoolProbe]
    /// Audits of the servers' settings against ScaleKit's promises
    /// (`scalekit doctor --audit`); empty for the embedded backends.
    public var audits: [AuditProbe]

    /// Assembles backends by hand, for tests or a service that builds its own;
    /// ``make(_:needs:logger:metricsFactory:metricsPrefix:)`` picks them from the configuration instead.
    public init(
        apiTracker: any APITracking, statusTracker: any StatusTracking, videos: any VideoRepository,
        choices: [BackendChoice], services: [any Service], healthChecks: [HealthCheck] = [], pools: [PoolProbe] = [],
        audits: [AuditProbe] = []
    ) {
        self.apiTracker = apiTracker
        self.statusTracker = statusTracker
        self.videos = videos
        self.choices = choices
        self.services = services
        self.healthChecks = healthChecks
        self.pools = pools
        self.audits = audits
    }

    /// The primitives a caller uses; only these are built.
    public struct Needs: OptionSet, Sendable, Hashable {
        /// The set's bits: one per primitive.
        public let rawValue: Int
        /// The set with exactly these bits.
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// The API tracker.
        public static let apiTracker = Needs(rawValue: 1 << 0)
        /// The status tracker.
        public static let statusTracker = Needs(rawValue: 1 << 1)
        /// The video repository.
        public static let videos = Needs(rawValue: 1 << 2)
        /// Every primitive.
        public static let all: Needs = [.apiTracker, .statusTracker, .videos]
    }

    /// Picks and creates the backends in `needs` (all by default). Connects
    /// lazily: a server that is down shows up as a typed error on first use,
    /// not here. A primitive left out of `needs` is not built at all (its
    /// database is not even opened) and throws ``/ScaleKit/ScaleKitError/Code/unsupported`` if used,
    /// so a command that only counts API calls does not fail on an unusable videos database.
    ///
    /// Every backend records its metrics in `metricsFactory`; the pools are named
    /// `<metricsPrefix>.redis` and `<metricsPrefix>.postgres`, so two sets of
    /// backends in one process keep their gauges apart when given different prefixes.
    /// - Throws: ``/ScaleKit/ScaleKitError`` when the configuration names a backend this
    ///   build cannot create.
    public static func make(
        _ configuration: ScaleKitConfiguration, needs: Needs = .all, logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory, metricsPrefix: String = "scalekit"
    ) async throws -> ScaleKitBackends {
        var configuration = configuration
        if needs.contains(.apiTracker) { configuration.apiQuotas = try await configuration.allAPIQuotas() }
        var builder = BackendBuilder(
            configuration: configuration, logger: logger, metricsFactory: metricsFactory, metricsPrefix: metricsPrefix)
        let apiTracker: any APITracking = needs.contains(.apiTracker) ? try builder.makeAPITracker() : UnbuiltBackend(primitive: "API tracker")
        let statusTracker: any StatusTracking =
            needs.contains(.statusTracker) ? try builder.makeStatusTracker() : UnbuiltBackend(primitive: "status tracker")
        let videos: any VideoRepository = needs.contains(.videos) ? try await builder.makeVideoRepository() : UnbuiltBackend(primitive: "video repository")
        for choice in builder.choices {
            logger.info("\(choice)")
        }
        return ScaleKitBackends(
            apiTracker: apiTracker, statusTracker: statusTracker, videos: videos,
            choices: builder.choices, services: builder.services, healthChecks: builder.healthChecks,
            pools: builder.pools, audits: builder.audits)
    }

    /// Creates the backends, runs their services while `body` runs, then shuts them down.
    /// Only the primitives in `needs` are built (see ``make(_:needs:logger:metricsFactory:metricsPrefix:)``).
    public static func withBackends<R: Sendable>(
        _ configuration: ScaleKitConfiguration, needs: Needs = .all, logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory, metricsPrefix: String = "scalekit",
        _ body: @Sendable (ScaleKitBackends) async throws -> R
    ) async throws -> R {
        let backends = try await make(
            configuration, needs: needs, logger: logger, metricsFactory: metricsFactory, metricsPrefix: metricsPrefix)
        if backends.services.isEmpty { return try await body(backends) }
        let group = ServiceGroup(services: backends.services, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let result = try await body(backends)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}

/// A named liveness check of one server (Redis PING, SELECT 1).
public struct HealthCheck: Sendable {
    /// The server checked, for example `redis` or `postgresql`.
    public var name: String
    /// Returns when the server answered; throws the typed error when it did not.
    public var check: @Sendable () async throws -> Void

    /// A check named `name` that runs `check`.
    public init(name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }
}

/// A named view of one connection pool's statistics (no I/O, never blocks).
public struct PoolProbe: Sendable {
    /// The pool's name, for example `redis` or `postgresql`.
    public var name: String
    /// Reads a consistent snapshot of the pool's statistics, without I/O.
    public var statistics: @Sendable () -> ConnectionPoolStatistics

    /// A probe named `name` that reads `statistics`.
    public init(name: String, statistics: @escaping @Sendable () -> ConnectionPoolStatistics) {
        self.name = name
        self.statistics = statistics
    }
}
