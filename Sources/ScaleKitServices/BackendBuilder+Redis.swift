import ScaleKit

#if Redis
import ScaleKitRedis

extension BackendBuilder {
    mutating func makeRedisAPITracker(url: String, configuration trackerConfiguration: APITrackerConfiguration) throws -> any APITracking {
        let client = try sharedRedisClient(url)
        choices.append(
            BackendChoice(
                primitive: "API tracker", backend: "redis", isDistributed: true,
                location: configuration.redactedRedisURL ?? "",
                reason: "REDIS_URL is set; one atomic script per call, fail-closed when Redis is unreachable"))
        return RedisAPITracker(client: client, configuration: trackerConfiguration, logger: logger, metricsFactory: metricsFactory)
    }

    mutating func makeRedisStatusTracker(url: String) throws -> any StatusTracking {
        let client = try sharedRedisClient(url)
        choices.append(
            BackendChoice(
                primitive: "status tracker", backend: "redis", isDistributed: true,
                location: configuration.redactedRedisURL ?? "",
                reason: "REDIS_URL is set; statuses are shared by every worker and expire after 24 h"))
        return RedisStatusTracker(client: client, logger: logger, metricsFactory: metricsFactory)
    }

    /// The one client (one pool) both trackers share, made on first use.
    /// The URL is judged here, by ScaleKitRedis, and its errors name REDIS_URL.
    private mutating func sharedRedisClient(_ url: String) throws -> RedisClient {
        if let redisClient { return redisClient }
        let client = RedisClient(
            configuration: try RedisConnectionConfiguration(url: url, variable: "REDIS_URL"),
            pool: RedisClient.defaultPoolConfiguration, name: "\(metricsPrefix).redis", logger: logger,
            metricsFactory: metricsFactory)
        services.append(client)
        healthChecks.append(HealthCheck(name: "redis") { try await client.ping() })
        pools.append(PoolProbe(name: "redis") { client.statistics() })
        audits.append(RedisAudit.probe(client))
        redisClient = client
        return client
    }
}
#else
extension BackendBuilder {
    func makeRedisAPITracker(url: String, configuration: APITrackerConfiguration) throws -> any APITracking {
        throw ScaleKitError.backendNotBuilt("Redis", trait: "Redis", variable: "REDIS_URL")
    }

    func makeRedisStatusTracker(url: String) throws -> any StatusTracking {
        throw ScaleKitError.backendNotBuilt("Redis", trait: "Redis", variable: "REDIS_URL")
    }
}
#endif
