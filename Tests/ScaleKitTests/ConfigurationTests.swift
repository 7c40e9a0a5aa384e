import ScaleKit
import Logging
import ScaleKitServices
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsMatchTheSeed() throws {
        let configuration = try ScaleKitConfiguration(environment: [:])
        #expect(configuration.redisURL == nil)
        #expect(configuration.database == .sqlite(path: "scalekit.sqlite"))
        #expect(configuration.pool == ConnectionPoolConfiguration(size: 10, maxOverflow: 20, timeout: .seconds(30), recycle: .seconds(3600)))
        #expect(configuration.apiLimits == APILimits(daily: 100, hourly: 20))
        #expect(configuration.apiTrackerFile == "api_usage.json")
    }

    @Test func readsEveryVariable() throws {
        let configuration = try ScaleKitConfiguration(environment: [
            "REDIS_URL": "redis://:pw@cache:6380/2",
            "DATABASE_URL": "postgresql://app:pw@db:5432/videos?sslmode=require",
            "DB_POOL_SIZE": "5", "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT": "2.5", "DB_POOL_RECYCLE": "60",
            "RAPIDAPI_DAILY_LIMIT": "1000", "RAPIDAPI_HOURLY_LIMIT": " 50 ", "API_TRACKER_FILE": "/var/lib/app/usage.json",
        ])
        #expect(configuration.redisURL == "redis://:pw@cache:6380/2")
        #expect(configuration.redactedRedisURL == "redis://:***@cache:6380/2")
        #expect(configuration.database == .postgres(url: "postgresql://app:pw@db:5432/videos?sslmode=require"))
        #expect(configuration.database.description == "postgresql://app:***@db:5432/videos?sslmode=require")
        #expect(configuration.pool == ConnectionPoolConfiguration(size: 5, maxOverflow: 0, timeout: .milliseconds(2500), recycle: .seconds(60)))
        #expect(configuration.apiLimits == APILimits(daily: 1000, hourly: 50))
        #expect(configuration.apiTrackerFile == "/var/lib/app/usage.json")
    }

    @Test(arguments: [
        ("sqlite:///data/videos.db", DatabaseLocation.sqlite(path: "data/videos.db")),
        ("sqlite:////var/lib/videos.db", DatabaseLocation.sqlite(path: "/var/lib/videos.db")),
        ("postgres://u@h/db", DatabaseLocation.postgres(url: "postgres://u@h/db")),
    ])
    func databaseURLs(text: String, expected: DatabaseLocation) throws {
        #expect(try ScaleKitConfiguration(environment: ["DATABASE_URL": text]).database == expected)
    }

    @Test(arguments: [
        ("DB_POOL_SIZE", "ten", "DB_POOL_SIZE=ten is not a whole number"),
        ("DB_POOL_SIZE", "0", "DB_POOL_SIZE=0 must be at least 1"),
        ("DB_MAX_OVERFLOW", "-1", "DB_MAX_OVERFLOW=-1 must be at least 0"),
        ("DB_POOL_TIMEOUT", "0", "DB_POOL_TIMEOUT=0 must be positive"),
        ("DB_POOL_TIMEOUT", "nan", "DB_POOL_TIMEOUT=nan is not a number of seconds"),
        ("DB_POOL_RECYCLE", "1e12", "DB_POOL_RECYCLE=1e12 is more than a year"),
        ("RAPIDAPI_DAILY_LIMIT", "-5", "RAPIDAPI_DAILY_LIMIT=-5 must be at least 0"),
        ("RAPIDAPI_HOURLY_LIMIT", "20.5", "RAPIDAPI_HOURLY_LIMIT=20.5 is not a whole number"),
        ("RAPIDAPI_HOURLY_LIMIT", "99999999999999999999999", "is not a whole number"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL=localhost:6379 has scheme 'localhost'"),
        ("REDIS_URL", "http://cache", "has scheme 'http'"),
        ("REDIS_URL", "redis://:hunter2@", "REDIS_URL=redis://:***@ names no host"),
        ("REDIS_URL", "redis://h:70000", "port 70000 out of range"),
        ("REDIS_URL", "redis://a b", "is not a valid URL"),
        ("DATABASE_URL", "mysql://root:hunter2@db/x", "has scheme 'mysql'"),
        ("DATABASE_URL", "sqlite://", "names no SQLite file"),
        ("DATABASE_URL", "postgresql://u:hunter2@/db", "names no host"),
        // Out of range, or numbers in forms a human might write but Int() should not guess at.
        ("DB_POOL_SIZE", "1000000000", "must be at most 100000"),
        ("DB_MAX_OVERFLOW", "9223372036854775807", "must be at most 100000"),
        ("DB_POOL_SIZE", "0x10", "is not a whole number"),
        ("SCALEKIT_MAX_ATTEMPTS", "five", "SCALEKIT_MAX_ATTEMPTS=five is not a whole number"),
        ("SCALEKIT_MAX_ATTEMPTS", "0", "SCALEKIT_MAX_ATTEMPTS=0 must be at least 1"),
        ("SCALEKIT_MAX_ATTEMPTS", "1001", "must be at most 1000"),
        ("SCALEKIT_RETRY_BACKOFF", "-1", "SCALEKIT_RETRY_BACKOFF=-1 must not be negative"),
        ("DB_POOL_SIZE", "1_000", "is not a whole number"),
        ("DB_POOL_SIZE", "\u{FF15}", "is not a whole number"),  // a full-width digit 5
        ("DB_POOL_SIZE", "5\n6", "DB_POOL_SIZE=5\\n6 is not a whole number"),
        ("DB_POOL_TIMEOUT", "inf", "is not a number of seconds"),
        ("DB_POOL_TIMEOUT", "1e400", "is not a number of seconds"),
        ("DB_POOL_TIMEOUT", "-0", "must be positive"),
        ("DB_POOL_TIMEOUT", "1e-300", "is less than a millisecond"),
        ("DB_POOL_RECYCLE", "-1", "must be positive"),
        ("REDIS_WAIT_REPLICAS", "-1", "REDIS_WAIT_REPLICAS=-1 must be at least 0"),
        ("REDIS_WAIT_REPLICAS", "one", "is not a whole number"),
        ("REDIS_WAIT_REPLICAS", "101", "must be at most 100"),
        // Credentials in malformed URLs, pasted without percent-encoding: never printed.
        ("REDIS_URL", "redis://:hunter2@h\r\nSET x 1", "redis://:***@h\\r\\nSET x 1 is not a valid URL"),
        ("REDIS_URL", "redis://:hun/ter2@host/0", "REDIS_URL=redis://:***@host/0"),
        ("REDIS_URL", "redis://:hun?ter2@host/0", "REDIS_URL=redis://:***@host/0"),
        ("REDIS_URL", "redis://:hun#ter2@host/0", "REDIS_URL=redis://:***@host/0"),
        ("REDIS_URL", "redis://:hunter2@h:6379/99999999999999999999", "database number"),
        ("REDIS_URL", "redis://:hunter2@h:6379/-1", "database number"),
        ("DATABASE_URL", "mysql://u:hun ter2@db/x", "mysql://u:***@db/x"),
        ("DATABASE_URL", "sqlite:", "names no SQLite file"),
    ])
    func malformedValuesNameTheVariable(variable: String, value: String, expected: String) async throws {
        // Either the environment reader refuses it, or the backend that reads
        // it (Redis URLs are ScaleKitRedis's to judge) does when the factory builds it.
        let error = await #expect(throws: ScaleKitError.self) {
            let configuration = try ScaleKitConfiguration(environment: [variable: value])
            _ = try await ScaleKitBackends.make(configuration, needs: .apiTracker, logger: Logger(label: "test"))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.description.contains("\r") == false && error?.description.contains("\n") == false)
        #expect(error?.description.contains("ter2") == false)
        #expect(error?.message.contains(variable) == true)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func blankValuesMeanUnset() throws {
        let configuration = try ScaleKitConfiguration(environment: ["REDIS_URL": "  ", "DB_POOL_SIZE": ""])
        #expect(configuration.redisURL == nil)
        #expect(configuration.pool.size == 10)
    }

    @Test(arguments: [
        ("redis://user:s3cret@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://:s3cret@host", "redis://:***@host"),
        ("see postgresql://a:s3cret@db/x and redis://:s3cret@r", "see postgresql://a:***@db/x and redis://:***@r"),
        ("host=db password=s3cret user=a", "host=db password=*** user=a"),
        ("password='s3 cret' x", "password=*** x"),
        ("redis://host:6379", "redis://host:6379"),
        ("redis://user@host", "redis://user@host"),
        ("redis://:pa/ss@host/0", "redis://:***@host/0"),
        ("redis://u:pa?ss#x@host", "redis://u:***@host"),
        ("postgresql://u:pa ss@db/x failed", "postgresql://u:***@db/x failed"),
        ("postgresql://u@h/db?password=s3cret&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("redis://host:6379: Connection refused", "redis://host:6379: Connection refused"),
        ("PASSWORD=s3cret", "PASSWORD=***"),
    ])
    func redaction(input: String, expected: String) {
        #expect(redactingCredentials(in: input) == expected)
    }
}
