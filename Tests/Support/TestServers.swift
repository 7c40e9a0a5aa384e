import Foundation

/// The servers the test script started (scripts/with-servers.sh).
///
/// A server test is enabled when its variable is set. When it is not, the
/// test is skipped — unless `SCALEKIT_REQUIRE_SERVERS=1` (set by
/// scripts/test.sh, so CI never skips), in which case ``requireRedisURL()``
/// and friends fail the test.
public enum TestServers {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Whether missing servers are failures rather than skips.
    public static var areRequired: Bool { environment["SCALEKIT_REQUIRE_SERVERS"] == "1" }

    public static var redisURL: String? { environment["SCALEKIT_TEST_REDIS_URL"] }
    public static var databaseURL: String? { environment["SCALEKIT_TEST_DATABASE_URL"] }
    /// PgBouncer in `pool_mode = transaction` in front of ``databaseURL``'s server.
    public static var pgbouncerURL: String? { environment["SCALEKIT_TEST_PGBOUNCER_URL"] }

    /// For `.enabled(if:)`: run when the server is there, or when it is required (and then fail).
    public static var redisEnabled: Bool { redisURL != nil || areRequired }
    public static var postgresEnabled: Bool { databaseURL != nil || areRequired }
    public static var pgbouncerEnabled: Bool { pgbouncerURL != nil || areRequired }
    /// The CA that signed the test PostgreSQL's certificate, and an unrelated one.
    public static var postgresTLSCA: String? { environment["SCALEKIT_TEST_PG_TLS_CA"] }
    public static var postgresTLSWrongCA: String? { environment["SCALEKIT_TEST_PG_TLS_WRONG_CA"] }
    public static var postgresTLSEnabled: Bool { (postgresTLSCA != nil && databaseURL != nil) || areRequired }

    /// The two CA files (right, wrong) of the test PostgreSQL's TLS.
    public static func requirePostgresTLS() throws -> (ca: String, wrongCA: String) {
        guard let ca = postgresTLSCA, let wrong = postgresTLSWrongCA else {
            throw Missing(description: "SCALEKIT_TEST_PG_TLS_CA / _WRONG_CA are not set: run the tests through scripts/test.sh")
        }
        return (ca, wrong)
    }

    public struct Missing: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// How much slower than usual the tests run (`SCALEKIT_TEST_SLOWDOWN`,
    /// set by scripts/test.sh for the sanitizer stages; 1 otherwise).
    public static var slowdown: Double {
        environment["SCALEKIT_TEST_SLOWDOWN"].flatMap(Double.init).map { max(1, $0) } ?? 1
    }

    /// `duration` stretched by ``slowdown``: for pool timeouts and for the
    /// loose upper bounds that prove a call does not hang, never for the
    /// timeouts whose firing a test checks.
    public static func scaled(_ duration: Duration) -> Duration { duration * slowdown }

    /// How long a call may take before a test calls it hung: three minutes,
    /// stretched by ``slowdown``. The whole suite runs its tests in parallel
    /// on a machine that may be saturated (the unit stage adds two CPU hogs
    /// per core), and a test's continuation can wait tens of seconds for a
    /// cooperative thread, so a bound near the expected answer time would
    /// judge the machine's load, not the code. Tests that use it tell a
    /// refusal from a timeout by the error's code, never by the clock.
    public static var hangBound: Duration { scaled(.seconds(180)) }

    /// Whether this run is a sanitizer stage (`SCALEKIT_TEST_SANITIZER`, set by
    /// scripts/test.sh). Numeric comparisons that render minutes of audio
    /// against ffmpeg's own filters run in the unit stage; under a
    /// sanitizer they are 20 times slower, starve every test running beside
    /// them for minutes, and check nothing about threads or memory that the
    /// lighter mixer tests do not.
    public static var sanitizerBuild: Bool { environment["SCALEKIT_TEST_SANITIZER"] != nil }

    public static func requireRedisURL() throws -> String {
        guard let url = redisURL else { throw Missing(description: "SCALEKIT_TEST_REDIS_URL is not set: run the tests through scripts/test.sh") }
        return url
    }

    public static func requirePgBouncerURL() throws -> String {
        guard let url = pgbouncerURL else { throw Missing(description: "SCALEKIT_TEST_PGBOUNCER_URL is not set: run the tests through scripts/test.sh") }
        return url
    }

    public static func requireDatabaseURL() throws -> String {
        guard let url = databaseURL else { throw Missing(description: "SCALEKIT_TEST_DATABASE_URL is not set: run the tests through scripts/test.sh") }
        return url
    }
}
