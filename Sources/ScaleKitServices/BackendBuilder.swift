import Logging
import Metrics
import ScaleKit
#if Redis
import ScaleKitRedis
#endif
import ScaleKitSQLite
import ServiceLifecycle

/// Picks one backend per primitive and remembers what it picked.
///
/// The server backends are built only with the package traits `Redis` and
/// `PostgreSQL` (both on by default; BackendBuilder+Redis.swift and
/// BackendBuilder+Postgres.swift). Without one, a configuration that names
/// that server is refused with `unsupported` instead of silently falling
/// back to an embedded backend that other workers cannot see.
struct BackendBuilder {
    let configuration: ScaleKitConfiguration
    let logger: Logger
    /// Where every backend's metrics go; pools are named `<metricsPrefix>.redis`, `<metricsPrefix>.postgres`.
    let metricsFactory: any MetricsFactory
    let metricsPrefix: String
    // Appended to by the server backends' extensions (one file per trait).
    var choices: [BackendChoice] = []
    var services: [any Service] = []
    var healthChecks: [HealthCheck] = []
    var pools: [PoolProbe] = []
    var audits: [AuditProbe] = []

    init(configuration: ScaleKitConfiguration, logger: Logger, metricsFactory: any MetricsFactory, metricsPrefix: String) {
        self.configuration = configuration
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.metricsPrefix = metricsPrefix
    }

    #if Redis
    /// One Redis client (one pool) shared by both trackers, made on first use.
    var redisClient: RedisClient?
    #endif

    mutating func makeAPITracker() throws -> any APITracking {
        let trackerConfiguration = APITrackerConfiguration(limits: configuration.apiLimits, extraQuotas: configuration.apiQuotas)
        if configuration.usesRedis {
            return try makeRedisAPITracker(configuration: trackerConfiguration)
        }
        choices.append(
            BackendChoice(
                primitive: "API tracker", backend: "file", isDistributed: false, location: configuration.apiTrackerFile,
                reason: "REDIS_URL is not set; safe across the processes of this machine only"))
        return FileAPITracker(path: configuration.apiTrackerFile, configuration: trackerConfiguration, metricsFactory: metricsFactory)
    }

    mutating func makeStatusTracker() throws -> any StatusTracking {
        if configuration.usesRedis {
            return try makeRedisStatusTracker()
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
            return try makePostgresVideoRepository(url: url)
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

extension ScaleKitError {
    /// `variable` names a server whose backend this build left out (a disabled package trait).
    static func backendNotBuilt(_ server: String, trait: String, variable: String) -> ScaleKitError {
        ScaleKitError(
            .unsupported,
            "\(variable) names a \(server) server, but ScaleKitServices was built without its \(trait) trait; "
                + "enable it in your package's dependency on ScaleKit (traits: [\"\(trait)\"]), or unset \(variable)")
    }
}
