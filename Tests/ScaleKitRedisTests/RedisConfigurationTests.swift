import Foundation
import ScaleKit
import ScaleKitRedis
import Testing

@Suite struct RedisConfigurationTests {
    @Test func parsesHostPortDatabaseAndCredentials() throws {
        let configuration = try RedisConnectionConfiguration(url: "redis://alice:s%3Acret@cache.internal:6380/3")
        #expect(configuration.endpoint == .tcp(host: "cache.internal", port: 6380))
        #expect(configuration.username == "alice")
        #expect(configuration.password == "s:cret")
        #expect(configuration.database == 3)
    }

    @Test func defaultsAndPasswordOnly() throws {
        let plain = try RedisConnectionConfiguration(url: "redis://localhost")
        #expect(plain.endpoint == .tcp(host: "localhost", port: 6379) && plain.database == 0 && plain.password == nil)
        let passwordOnly = try RedisConnectionConfiguration(url: "redis://:hunter2@localhost:6379/1")
        #expect(passwordOnly.username == nil && passwordOnly.password == "hunter2" && passwordOnly.database == 1)
        let queryDB = try RedisConnectionConfiguration(url: "redis://localhost?db=4")
        #expect(queryDB.database == 4)
    }

    @Test func unixSockets() throws {
        let configuration = try RedisConnectionConfiguration(url: "unix:///run/redis/redis.sock?db=2&password=pw")
        #expect(configuration.endpoint == .unixSocket(path: "/run/redis/redis.sock"))
        #expect(configuration.database == 2 && configuration.password == "pw")
        #expect(!configuration.description.contains("pw"))
    }

    @Test func tlsURLsAskForVerifiedTLS() throws {
        let configuration = try RedisConnectionConfiguration(url: "rediss://user:topsecret@cache:6380/0")
        #expect(configuration.tls == RedisConnectionConfiguration.TLS())
        #expect(configuration.endpoint == .tcp(host: "cache", port: 6380))
        #expect(configuration.description == "rediss://user:***@cache:6380/0")
        #expect(try RedisConnectionConfiguration(url: "redis://cache").tls == nil)
    }

    @Test func malformedURLsNameNoPassword() {
        for url in ["http://u:topsecret@host", "redis://:topsecret@host/notanumber", "redis://:topsecret@", "unix://:topsecret@relative"] {
            let error = #expect(throws: ScaleKitError.self) { try RedisConnectionConfiguration(url: url) }
            #expect(error?.code == .invalidConfiguration, "\(url)")
            #expect(error?.description.contains("topsecret") == false, "\(url)")
        }
    }

    @Test func descriptionAndMirrorHideThePassword() throws {
        let configuration = try RedisConnectionConfiguration(url: "redis://alice:topsecret@host:1/0")
        #expect(configuration.description == "redis://alice:***@host:1/0")
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("topsecret"))
        #expect(!String(reflecting: configuration).contains("topsecret"))
    }

    @Test func scriptDigestsMatchRedis() {
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(
            RedisScript(String(repeating: "a", count: 1000)).sha1 == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func keySchemaUsesAHashTag() {
        let keys = RedisAPIKeys(keyPrefix: "api_tracker")
        let windows = APIWindows(containing: Date(timeIntervalSince1970: 1_795_939_200), timeZone: .utc)
        #expect(keys.day(windows) == "{api_tracker}:day:2026-11-29")
        #expect(keys.hour(windows) == "{api_tracker}:hour:2026-11-29-08")
        #expect(keys.stats == "{api_tracker}:stats")
    }
}
