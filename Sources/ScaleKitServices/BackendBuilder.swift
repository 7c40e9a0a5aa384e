import Logging
import Metrics
import ScaleKit
import ScaleKitPostgres
import ScaleKitRedis
import ScaleKitSQLite
import ServiceLifecycle

/// Picks one backend per primitive and remembers what it picked.
struct BackendBuilder {
    let configuration: ScaleKitConfiguration
    let logger: Logger
    /// Where every backend's metrics go; pools are named `<metricsPrefix>.redis`, `<metricsPrefix>.postgres`.
    let metricsFactory: any MetricsFactory
    let metricsPrefix: String
    private(set) var choices: [BackendChoice] = []
    private(set) var services: [any Service] = []
    private(set) var healthChecks: [HealthCheck] = []
    private(set) var pools: [PoolProbe] = []
    private(set) var audits: [AuditProbe] = []

    init(configuration: ScaleKitConfiguration, logger: Logger, metricsFactory: any MetricsFactory, metricsPrefix: String) {
        self.configuration = configuration
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.metricsPrefix = metricsPrefix
    }

    /// One Redis client (one pool) shared by both trackers, made on first use.
    private var redisClient: RedisClient?

    private mutating func sharedRedisClient(_ url: String) throws -> RedisClient {
        if let redisClient { return redisClient }
        let client = RedisClient(
            configuration: try RedisConnectionConfiguration(url: url, variable: "REDIS_URL"), pool: RedisClient.defaultPoolConfiguration, name: "\(metricsPrefix).redis", logger: logger,
            metricsFactory: metricsFactory)
        services.append(client)
        healthChecks.append(HealthCheck(name: "redis") { try await client.ping() })
        pools.append(PoolProbe(name: "redis") { client.statistics() })
        audits.append(RedisAudit.probe(client))
        redisClient = client
        return client
    }

    mutating func makeAPITracker() throws -> any APITracking {
        let trackerConfiguration = APITrackerConfiguration(limits: configuration.apiLimits, extraQuotas: configuration.apiQuotas)
        if let redisURL = configuration.redisURL {
            let client = try sharedRedisClient(redisURL)
            choices.append(
                BackendChoice(
                    primitive: "API tracker", backend: "redis", isDistributed: true,
                    location: configuration.redactedRedisURL ?? "",
                    reason: "REDIS_URL is set; one atomic script per call, fail-closed when Redis is unreachable"))
            return RedisAPITracker(client: client, configuration: trackerConfiguration, logger: logger, metricsFactory: metricsFactory)
        }
        choices.append(
            BackendChoice(
                primitive: "API tracker", backend: "file", isDistributed: false, location: configuration.apiTrackerFile,
                reason: "REDIS_URL is not set; safe across the processes of this machine only"))
        return FileAPITracker(path: configuration.apiTrackerFile, configuration: trackerConfiguration, metricsFactory: metricsFactory)
    }

    mutating func makeStatusTracker() throws -> any StatusTracking {
        if let redisURL = configuration.redisURL {
            let client = try sharedRedisClient(redisURL)
            choices.append(
                BackendChoice(
                    primitive: "status tracker", backend: "redis", isDistributed: true,
                    location: configuration.redactedRedisURL ?? "",
                    reason: "REDIS_URL is set; statuses are shared by every worker and expire after 24 h"))
            return RedisStatusTracker(client: client, logger: logger, metricsFactory: metricsFactory)
        }
        choices.append(
            BackendChoice(
                primitive: "status tracker", backend: "in-memory", isDistributed: false, location: "this process",
                reason: "REDIS_URL is not set; statuses are visible to this process only and lost on exit"))
        return InMemoryStatusTracker()
    }

    mutating func makeVideoRepository() async throws -> any VideoRepository {
        switch configuration.database {
        case .postgres(let url):
            let repository = try PostgresVideoRepository(
                url: url, pool: configuration.pool, policy: configuration.claimPolicy, name: "\(metricsPrefix).postgres",
                logger: logger, metricsFactory: metricsFactory)
            services.append(repository)
            healthChecks.append(HealthCheck(name: "postgresql") { try await repository.ping() })
            pools.append(PoolProbe(name: "postgresql") { repository.statistics() })
            audits.append(PostgresAudit.probe(repository, pool: configuration.pool))
            let pool = configuration.pool
            choices.append(
                BackendChoice(
                    primitive: "video repository", backend: "postgresql", isDistributed: true,
                    location: configuration.database.description,
                    reason: "DATABASE_URL is postgresql:// (pool_size=\(pool.size), max_overflow=\(pool.maxOverflow), timeout=\(pool.timeout), recycle=\(pool.recycle))"))
            return repository
        case .sqlite(let path):
            let repository = try await SQLiteVideoRepository(
                path: path, policy: configuration.claimPolicy, logger: logger, metricsFactory: metricsFactory)
            healthChecks.append(HealthCheck(name: "sqlite") { _ = try await repository.videos(state: nil, limit: 1) })
            choices.append(
                BackendChoice(
                    primitive: "video repository", backend: "sqlite", isDistributed: false, location: path,
                    reason: configuration.database == .defaultSQLite
                        ? "DATABASE_URL is not set; the embedded default, safe across the processes of this machine"
                        : "DATABASE_URL is sqlite:///; safe across the processes of this machine"))
            return repository
        }
    }
}
