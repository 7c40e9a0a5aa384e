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
                connection.tls = fromURL.tls
            }
            connection.tls = try tlsSettings(for: connection.tls)
            connection.replicaAcknowledgements = configuration.redisReplicaAcknowledgements
            client = try RedisClient(
                cluster: cluster, configuration: connection, pool: RedisClient.defaultPoolConfiguration, name: "\(metricsPrefix).redis",
                logger: logger, metricsFactory: metricsFactory)
        } else {
            var connection = try RedisConnectionConfiguration(url: configuration.redisURL ?? "", variable: "REDIS_URL")
            connection.tls = try tlsSettings(for: connection.tls)
            connection.replicaAcknowledgements = configuration.redisReplicaAcknowledgements
            client = RedisClient(
                configuration: connection,
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

    /// `rediss://`'s TLS with the files of `REDIS_TLS_*_FILE`. Those files
    /// given with a `redis://` URL are refused: the connection would be plain
    /// text although the operator meant it to be encrypted.
    private func tlsSettings(for fromURL: RedisConnectionConfiguration.TLS?) throws(ScaleKitError) -> RedisConnectionConfiguration.TLS? {
        let files = [
            ("REDIS_TLS_CA_FILE", configuration.redisTLSCAFile), ("REDIS_TLS_CERT_FILE", configuration.redisTLSCertificateFile),
            ("REDIS_TLS_KEY_FILE", configuration.redisTLSKeyFile),
        ]
        guard var tls = fromURL else {
            if let (name, _) = files.first(where: { $0.1 != nil }) {
                throw ScaleKitError(
                    .invalidConfiguration, "\(name) is set but REDIS_URL is not rediss://: ScaleKit will not connect in plain text when TLS is configured")
            }
            return nil
        }
        tls.caFile = configuration.redisTLSCAFile ?? tls.caFile
        tls.certificateFile = configuration.redisTLSCertificateFile ?? tls.certificateFile
        tls.keyFile = configuration.redisTLSKeyFile ?? tls.keyFile
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw ScaleKitError(.invalidConfiguration, "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together: set both or neither")
        }
        return tls
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
