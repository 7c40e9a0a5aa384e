public import Configuration
import Foundation

/// Everything ScaleKit reads from the environment, parsed and checked once.
///
/// Build one from a dictionary in tests (``init(environment:)``), from the
/// process environment at the edge of a program (``fromProcessEnvironment()``),
/// or from any swift-configuration `ConfigReader` (``init(reader:)``).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `REDIS_URL` | `redis://[user:password@]host[:port][/db]` or `unix:///path` | unset: embedded backends |
/// | `REDIS_TLS_CA_FILE` | PEM CA certificates that sign the Redis server's certificate (`rediss://` only) | the system's roots |
/// | `REDIS_TLS_CERT_FILE`, `REDIS_TLS_KEY_FILE` | a PEM client certificate and its key, for mutual TLS (`rediss://` only) | none |
/// | `REDIS_WAIT_REPLICAS` | replicas that must confirm each tracker write (`WAIT`) before it counts as done (0…100) | 0: the master's word |
/// | `REDIS_CLUSTER_NODES` | a Redis Cluster's seed nodes, `host:port,host:port`; `REDIS_URL` then gives only the user and password | unset: one server |
/// | `DATABASE_URL` | `postgresql://…`, `postgres://…` or `sqlite:///path` | `sqlite:///scalekit.sqlite` |
/// | `DB_POOL_SIZE` | connections kept open | 10 |
/// | `DB_MAX_OVERFLOW` | extra connections under load | 20 |
/// | `DB_POOL_TIMEOUT` | seconds to wait for a free connection | 30 |
/// | `DB_POOL_RECYCLE` | seconds before a connection is replaced | 3600 |
/// | `RAPIDAPI_DAILY_LIMIT` | API calls per day | 100 |
/// | `RAPIDAPI_HOURLY_LIMIT` | API calls per hour | 20 |
/// | `SCALEKIT_QUOTAS` | more API quotas: `NAME=COUNT/WINDOW[/key],…;…` (see ``Quota/parseList(_:variable:)`` and Docs/Quotas.md) | none |
/// | `SCALEKIT_QUOTAS_FILE` | a JSON file of more API quotas, read with swift-configuration (see ``Quota/loadFile(_:)``) | none |
/// | `API_TRACKER_FILE` | the file tracker's path (no Redis) | `api_usage.json` |
/// | `SCALEKIT_MAX_ATTEMPTS` | attempts per video before it is abandoned (1…1000) | 5 |
/// | `SCALEKIT_RETRY_BACKOFF` | seconds a failed video waits before its second attempt; doubles per attempt, at most an hour | 0 |
///
/// A malformed value is a ``ScaleKitError/Code/invalidConfiguration`` error
/// that names the variable and the value (passwords redacted), never a
/// silent default. (swift-configuration's typed getters fall back to the
/// default on a malformed value, so values are read as strings and parsed here.)
public struct ScaleKitConfiguration: Sendable, Hashable {
    /// The Redis server, or `nil` to use the embedded backends.
    public var redisURL: String?
    /// A Redis Cluster's seed nodes (`host:port,…`), or `nil` for one server.
    /// ScaleKitRedis reads the list when a backend is built from it.
    public var redisClusterNodes: String?
    /// `REDIS_WAIT_REPLICAS`: how many replicas must confirm each tracker
    /// write before it counts as done (0: the master's word).
    public var redisReplicaAcknowledgements: Int = 0
    /// `REDIS_TLS_CA_FILE`: the CA certificates Redis's certificate is checked against (`rediss://`).
    public var redisTLSCAFile: String?
    /// `REDIS_TLS_CERT_FILE`: a client certificate for mutual TLS with Redis.
    public var redisTLSCertificateFile: String?
    /// `REDIS_TLS_KEY_FILE`: the private key of ``redisTLSCertificateFile``.
    public var redisTLSKeyFile: String?
    /// Where videos are stored.
    public var database: DatabaseLocation
    /// The database connection pool's settings.
    public var pool: ConnectionPoolConfiguration
    /// The external API's limits.
    public var apiLimits: APILimits
    /// The file the file-based API tracker uses when there is no Redis.
    public var apiTrackerFile: String
    /// Quotas besides the default one built from ``apiLimits`` (`SCALEKIT_QUOTAS`).
    public var apiQuotas: [Quota]
    /// A JSON file of more quotas (`SCALEKIT_QUOTAS_FILE`), read by ``allAPIQuotas()``.
    public var apiQuotaFile: String?
    /// Attempts per video and the backoff between them.
    public var claimPolicy: ClaimPolicy

    /// Whether Redis backs the trackers: `REDIS_URL` or `REDIS_CLUSTER_NODES` is set.
    public var usesRedis: Bool { redisURL != nil || redisClusterNodes != nil }

    /// The embedded defaults: no Redis, SQLite in the working directory.
    public init(
        redisURL: String? = nil, database: DatabaseLocation = .defaultSQLite, pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(),
        apiLimits: APILimits = .default, apiTrackerFile: String = "api_usage.json", claimPolicy: ClaimPolicy = ClaimPolicy(),
        apiQuotas: [Quota] = [], redisClusterNodes: String? = nil
    ) {
        self.redisClusterNodes = redisClusterNodes
        self.apiQuotas = apiQuotas
        self.claimPolicy = claimPolicy
        self.redisURL = redisURL
        self.database = database
        self.pool = pool
        self.apiLimits = apiLimits
        self.apiTrackerFile = apiTrackerFile
    }

    /// Reads and checks every variable from a configuration reader whose keys
    /// map to the variables above (`redis.url` → `REDIS_URL`).
    public init(reader: ConfigReader) throws(ScaleKitError) {
        let values = ConfigValues(reader: reader)
        // Only ScaleKitRedis knows Redis URLs: it checks this one, naming
        // REDIS_URL, when a backend is built from it (ScaleKitBackends.make).
        redisURL = try values.nonEmptyString(Variable.redisURL)
        redisClusterNodes = try values.nonEmptyString(Variable.redisClusterNodes)
        redisReplicaAcknowledgements = try values.integer(Variable.redisWaitReplicas, default: 0, minimum: 0, maximum: 100)
        redisTLSCAFile = try values.nonEmptyString(Variable.redisTLSCAFile)
        redisTLSCertificateFile = try values.nonEmptyString(Variable.redisTLSCertificateFile)
        redisTLSKeyFile = try values.nonEmptyString(Variable.redisTLSKeyFile)
        if let text = try values.url(Variable.databaseURL, schemes: DatabaseLocation.schemes) {
            database = try DatabaseLocation(parsing: text, variable: Variable.databaseURL.name)
        } else {
            database = .defaultSQLite
        }
        let defaults = ConnectionPoolConfiguration()
        let maximum = ConnectionPoolConfiguration.maximumConnections
        pool = ConnectionPoolConfiguration(
            size: try values.integer(Variable.poolSize, default: defaults.size, minimum: 1, maximum: maximum),
            maxOverflow: try values.integer(Variable.maxOverflow, default: defaults.maxOverflow, minimum: 0, maximum: maximum),
            timeout: .seconds(try values.seconds(Variable.poolTimeout, default: defaults.timeout.timeInterval, allowZero: false)),
            recycle: .seconds(try values.seconds(Variable.poolRecycle, default: defaults.recycle.timeInterval, allowZero: false))
        )
        apiLimits = APILimits(
            daily: try values.integer(Variable.dailyLimit, default: 100, minimum: 0, maximum: APILimits.maximumCount),
            hourly: try values.integer(Variable.hourlyLimit, default: 20, minimum: 0, maximum: APILimits.maximumCount)
        )
        apiTrackerFile = try values.nonEmptyString(Variable.apiTrackerFile) ?? "api_usage.json"
        apiQuotaFile = try values.nonEmptyString(Variable.quotasFile)
        apiQuotas = try values.nonEmptyString(Variable.quotas).map { (text) throws(ScaleKitError) in
            try Quota.parseList(text, variable: Variable.quotas.name)
        } ?? []
        claimPolicy = ClaimPolicy(
            maxAttempts: try values.integer(
                Variable.maxAttempts, default: ClaimPolicy.defaultMaxAttempts, minimum: 1, maximum: ClaimPolicy.maximumMaxAttempts),
            retryBackoff: .milliseconds(Int64((try values.seconds(Variable.retryBackoff, default: 0, allowZero: true) * 1000).rounded())))
    }

    /// Reads and checks every variable from a dictionary of environment variables.
    public init(environment: [String: String]) throws(ScaleKitError) {
        try self.init(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    /// Reads and checks every variable from the process environment.
    public static func fromProcessEnvironment() throws(ScaleKitError) -> ScaleKitConfiguration {
        try ScaleKitConfiguration(environment: ProcessInfo.processInfo.environment)
    }

    /// ``apiQuotas`` followed by the quotas of ``apiQuotaFile``, if any.
    ///
    /// - Throws: ``ScaleKitError`` `invalidConfiguration` for a malformed
    ///   file, or a quota defined both in `SCALEKIT_QUOTAS` and in the file.
    public func allAPIQuotas() async throws(ScaleKitError) -> [Quota] {
        guard let apiQuotaFile else { return apiQuotas }
        let fromFile = try await Quota.loadFile(apiQuotaFile)
        if let twice = fromFile.first(where: { quota in apiQuotas.contains { $0.name == quota.name } }) {
            throw ScaleKitError(.invalidConfiguration, "quota \(twice.name) is defined both in SCALEKIT_QUOTAS and in \(apiQuotaFile)")
        }
        return apiQuotas + fromFile
    }

    /// `REDIS_URL` with its password replaced by `***`, for logs and `scalekit doctor`.
    public var redactedRedisURL: String? { redisURL.map { printable(redactingCredentials(in: $0)) } }
}

/// Where the video repository keeps its data.
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    /// A PostgreSQL server; the URL is passed to libpq as is (sslmode and other parameters included).
    case postgres(url: String)
    /// An SQLite database file.
    case sqlite(path: String)

    /// `scalekit.sqlite` in the working directory.
    public static let defaultSQLite = DatabaseLocation.sqlite(path: "scalekit.sqlite")

    static let schemes = ["postgresql", "postgres", "sqlite"]

    /// Parses a `DATABASE_URL` value.
    public init(parsing text: String, variable: String = "DATABASE_URL") throws(ScaleKitError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgresql://") || lowered.hasPrefix("postgres://") {
            self = .postgres(url: text)
        } else if lowered.hasPrefix("sqlite:") {
            let path = lowered.hasPrefix("sqlite:///") ? String(text.dropFirst("sqlite:///".count)) : ""
            guard !path.isEmpty else {
                throw ScaleKitError(.invalidConfiguration, "\(variable)=\(printable(redactingCredentials(in: text))) names no SQLite file (sqlite:///path)")
            }
            // sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them.
            self = .sqlite(path: path.removingPercentEncoding ?? path)
        } else {
            throw ScaleKitError(
                .invalidConfiguration,
                "\(variable)=\(printable(redactingCredentials(in: text))) is not supported: use postgresql://, postgres:// or sqlite:///path")
        }
    }

    /// The location with its password redacted.
    public var description: String {
        switch self {
        case .postgres(let url): return redactingCredentials(in: url)
        case .sqlite(let path): return "sqlite:///\(path)"
        }
    }
}

extension ScaleKitConfiguration {
    /// The names of every environment variable ScaleKit reads, for the
    /// configuration fuzzer (a separate package, which cannot see `package`
    /// symbols) to build environments from.
    @_spi(Fuzzing) public static var environmentVariableNames: [String] { Variable.all.map(\.name) }
}

/// The environment variables ScaleKit reads, by name and configuration key.
package struct Variable: Sendable, Hashable {
    /// The environment variable's name.
    package var name: String
    /// The swift-configuration key it maps to.
    package var key: ConfigKey { ConfigKey(name.lowercased().split(separator: "_").map(String.init)) }

    package static let redisURL = Variable(name: "REDIS_URL")
    package static let redisClusterNodes = Variable(name: "REDIS_CLUSTER_NODES")
    package static let redisWaitReplicas = Variable(name: "REDIS_WAIT_REPLICAS")
    package static let redisTLSCAFile = Variable(name: "REDIS_TLS_CA_FILE")
    package static let redisTLSCertificateFile = Variable(name: "REDIS_TLS_CERT_FILE")
    package static let redisTLSKeyFile = Variable(name: "REDIS_TLS_KEY_FILE")
    package static let databaseURL = Variable(name: "DATABASE_URL")
    package static let poolSize = Variable(name: "DB_POOL_SIZE")
    package static let maxOverflow = Variable(name: "DB_MAX_OVERFLOW")
    package static let poolTimeout = Variable(name: "DB_POOL_TIMEOUT")
    package static let poolRecycle = Variable(name: "DB_POOL_RECYCLE")
    package static let dailyLimit = Variable(name: "RAPIDAPI_DAILY_LIMIT")
    package static let hourlyLimit = Variable(name: "RAPIDAPI_HOURLY_LIMIT")
    package static let apiTrackerFile = Variable(name: "API_TRACKER_FILE")
    package static let quotas = Variable(name: "SCALEKIT_QUOTAS")
    package static let quotasFile = Variable(name: "SCALEKIT_QUOTAS_FILE")
    package static let maxAttempts = Variable(name: "SCALEKIT_MAX_ATTEMPTS")
    package static let retryBackoff = Variable(name: "SCALEKIT_RETRY_BACKOFF")

    /// Every variable ScaleKit reads.
    package static let all: [Variable] = [
        redisURL, redisClusterNodes, redisWaitReplicas, redisTLSCAFile, redisTLSCertificateFile, redisTLSKeyFile, databaseURL, poolSize, maxOverflow, poolTimeout, poolRecycle, dailyLimit, hourlyLimit, apiTrackerFile,
        maxAttempts, retryBackoff, quotas, quotasFile,
    ]
}
