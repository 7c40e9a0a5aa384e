import ScaleKit

#if Redis
import ScaleKitRedis

extension BackendBuilder {
    mutating func makeRedisAPITracker(configuration trackerConfiguration: APITrackerConfiguration) throws -> any APITracking {
        let client = try sharedRedisClient()
        choices.append(
            BackendChoice(
                primitive: "API tracker", backend: redisBackendName, isDistributed: true, location: redisLocation,
                reason: "\(redisVariable) is set; one atomic script per call, fail-closed when Redis is unreachable"))
        return RedisAPITracker(client: client, configuration: trackerConfiguration, logger: logger, metricsFactory: metricsFactory)
    }

    mutating func makeRedisStatusTracker() throws -> any StatusTracking {
        let client = try sharedRedisClient()
        choices.append(
            BackendChoice(
                primitive: "status tracker", backend: redisBackendName, isDistributed: true, location: redisLocation,
                reason: "\(redisVariable) is set; statuses are shared by every worker and expire after 24 h"))
        return RedisStatusTracker(client: client, logger: logger, metricsFactory: metricsFactory)
    }

    private var redisBackendName: String { configuration.redisClusterNodes == nil ? "redis" : "redis-cluster" }
    private var redisVariable: String { configuration.redisClusterNodes == nil ? "REDIS_URL" : "REDIS_CLUSTER_NODES" }
    private var redisLocation: String {
        guard let nodes = configuration.redisClusterNodes else { return configuration.redactedRedisURL ?? "" }
        return "cluster \(printable(nodes))"
    }

    /// The one client (one pool, or one per cluster master) both trackers
    /// share, made on first use. The URL and the node list are judged here,
    /// by ScaleKitRedis, and their errors name REDIS_URL and REDIS_CLUSTER_NODES.
    /// With a node list, REDIS_URL (optional) gives only the user, password and scheme.
    private mutating func sharedRedisClient() throws -> RedisClient {
        if let redisClient { return redisClient }
        let client: RedisClient
        if let nodes = configuration.redisClusterNodes {
            let cluster = try RedisClusterConfiguration(nodes: nodes, variable: "REDIS_CLUSTER_NODES")
            var connection = RedisConnectionConfiguration(endpoint: .tcp(host: cluster.seeds[0].host, port: cluster.seeds[0].port))
            if let url = configuration.redisURL {
                let fromURL = try RedisConnectionConfiguration(url: url, variable: "REDIS_URL")
                connection.username = fromURL.username
                connection.password = fromURL.password
                connection.database = fromURL.database
            }
            client = try RedisClient(
                cluster: cluster, configuration: connection, pool: RedisClient.defaultPoolConfiguration, name: "\(metricsPrefix).redis",
                logger: logger, metricsFactory: metricsFactory)
        } else {
            client = RedisClient(
                configuration: try RedisConnectionConfiguration(url: configuration.redisURL ?? "", variable: "REDIS_URL"),
                pool: RedisClient.defaultPoolConfiguration, name: "\(metricsPrefix).redis", logger: logger,
                metricsFactory: metricsFactory)
        }
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
    func makeRedisAPITracker(configuration: APITrackerConfiguration) throws -> any APITracking {
        throw ScaleKitError.backendNotBuilt("Redis", trait: "Redis", variable: "REDIS_URL")
    }

    func makeRedisStatusTracker() throws -> any StatusTracking {
        throw ScaleKitError.backendNotBuilt("Redis", trait: "Redis", variable: "REDIS_URL")
    }
}
#endif
