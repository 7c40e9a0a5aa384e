import ScaleKit

#if PostgreSQL
import ScaleKitPostgres

extension BackendBuilder {
    mutating func makePostgresVideoRepository(url: String) throws -> any VideoRepository {
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
    }
}
#else
extension BackendBuilder {
    func makePostgresVideoRepository(url: String) throws -> any VideoRepository {
        throw ScaleKitError.backendNotBuilt("PostgreSQL", trait: "PostgreSQL", variable: "DATABASE_URL")
    }
}
#endif
