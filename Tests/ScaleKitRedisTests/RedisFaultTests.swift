import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// Outages against a redis-server each test owns (stopped, frozen, restarted),
/// so the shared server other tests use is never disturbed.
@Suite(.serialized, .enabled(if: PrivateRedisServer.isAvailable))
struct RedisFaultTests {
    static func client(_ url: String, commandTimeout: Duration = .milliseconds(300)) throws -> RedisClient {
        RedisClient(
            configuration: try RedisConnectionConfiguration(url: url, connectTimeout: .milliseconds(500), commandTimeout: commandTimeout))
    }

    static func trackers(_ client: RedisClient, policy: RedisUnreachablePolicy = .failClosed) -> (RedisAPITracker, RedisStatusTracker) {
        (
            RedisAPITracker(client: client, configuration: APITrackerConfiguration(limits: APILimits(daily: 100, hourly: 50)), unreachablePolicy: policy),
            RedisStatusTracker(client: client)
        )
    }

    @Test func restartedServerIsReconnectedWithoutRecreatingTrackers() async throws {
        let server = try await PrivateRedisServer.make()
        let (api, status) = Self.trackers(try Self.client(server.url))
        #expect(try await api.checkAndCount().isAllowed)
        try await status.setStatus(JobStatus(state: .processing), for: "job")

        await server.stop()
        let started = ContinuousClock.now
        let apiError = await #expect(throws: ScaleKitError.self) { try await api.checkAndCount() }
        #expect(apiError?.code == .connectionFailed)
        let statusError = await #expect(throws: ScaleKitError.self) { try await status.mergeStatus(["progress": 0.5], for: "job") }
        #expect(statusError?.code == .connectionFailed)
        await #expect(throws: ScaleKitError.self) { try await api.usage() }
        // Bounded by the 300 ms command timeout, not hung; generous for loaded machines and sanitizers.
        #expect(ContinuousClock.now - started < TestServers.hangBound)

        try await offThePool { try server.start() }
        // The first calls after the restart succeed: stale sockets are replaced before sending.
        let decision = try await api.checkAndCount()
        #expect(decision.isAllowed && decision.usage.hourCount == 1)  // the restarted server kept no data
        let merged = try await status.mergeStatus(["progress": 0.5], for: "job")
        #expect(merged.progress == 0.5)
    }

    @Test func frozenServerTimesOutAndRecovers() async throws {
        let server = try await PrivateRedisServer.make()
        let (api, status) = Self.trackers(try Self.client(server.url))
        #expect(try await api.checkAndCount().isAllowed)

        server.freeze()
        defer { server.thaw() }
        let started = ContinuousClock.now
        let error = await #expect(throws: ScaleKitError.self) { try await api.checkAndCount() }
        #expect(error?.code == .timeout)
        let statusError = await #expect(throws: ScaleKitError.self) { try await status.status(for: "job") }
        #expect(statusError?.code == .timeout)
        // Bounded by the 300 ms command timeout, not hung; generous for loaded machines and sanitizers.
        #expect(ContinuousClock.now - started < TestServers.hangBound)

        server.thaw()
        #expect(try await api.checkAndCount().isAllowed)
        #expect(try await status.status(for: "job") == nil)
    }

    /// A port that accepts connections and never answers (nobody reads the
    /// socket): `AUTH` or the first command hits its timeout; typed, bounded.
    @Test func hungServerTimesOut() async throws {
        let listener = try SilentListener()
        let url = "redis://:hunter2@127.0.0.1:\(listener.port)/3"
        let started = ContinuousClock.now
        let (api, status) = Self.trackers(try Self.client(url))
        let apiError = await #expect(throws: ScaleKitError.self) { try await api.checkAndCount() }
        #expect(apiError?.code == .timeout, "\(String(describing: apiError))")
        #expect(apiError?.description.contains("hunter2") == false)
        let statusError = await #expect(throws: ScaleKitError.self) { try await status.status(for: "job") }
        #expect(statusError?.code == .timeout)
        #expect(ContinuousClock.now - started < TestServers.hangBound)

        // Fail-open turns the same hang into an allowed, uncounted call.
        let (openAPI, _) = Self.trackers(try Self.client("redis://127.0.0.1:\(listener.port)/0"), policy: .failOpen)
        #expect(try await openAPI.checkAndCount().isAllowed)
    }

    @Test func failOpenAllowsUncountedCallsDuringAnOutage() async throws {
        let server = try await PrivateRedisServer.make()
        let (api, _) = Self.trackers(try Self.client(server.url), policy: .failOpen)
        #expect(try await api.checkAndCount().usage.hourCount == 1)

        await server.stop()
        let decision = try await api.checkAndCount()
        #expect(decision.isAllowed && decision.deniedBy == nil)
        try await api.recordOutcome(.success)  // dropped with a warning, not thrown
        await #expect(throws: ScaleKitError.self) { try await api.usage() }

        try await offThePool { try server.start() }
        server.freeze()
        #expect(try await api.checkAndCount().isAllowed)  // times out, allowed by fail-open
        server.thaw()
        let counted = try await api.checkAndCount()
        #expect(counted.isAllowed && counted.usage.hourCount >= 1)
    }

    @Test func passwordAndACLUserAreSentOnEveryConnection() async throws {
        let server = try await PrivateRedisServer.make(extraArguments: ["--requirepass", "top secret"])
        let admin = try Self.client("redis://:top%20secret@127.0.0.1:\(server.port)/2", commandTimeout: .seconds(2))
        try await admin.withConnection { connection in
            _ = try await connection.send("ACL", "SETUSER", "alice", "on", ">alice pw", "~*", "&*", "+@all")
            _ = try await connection.send("SET", "where", "db2")
        }
        let alice = try Self.client("redis://alice:alice%20pw@127.0.0.1:\(server.port)/2", commandTimeout: .seconds(2))
        let value = try await alice.withConnection { connection in try await connection.send("GET", "where") }
        #expect(value.string == "db2")  // AUTH as alice, then SELECT 2

        for url in ["redis://:wrong%20secret@127.0.0.1:\(server.port)/0", "redis://127.0.0.1:\(server.port)/0"] {
            let error = await #expect(throws: ScaleKitError.self) {
                try await Self.client(url).withConnection { connection in try await connection.send("GET", "where") }
            }
            #expect(error?.code == .connectionFailed || error?.code == .serverError, "\(url)")
            #expect(error?.description.contains("secret") == false, "\(String(describing: error))")
        }
    }

    @Test func unixSocket() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-\(UUID().uuidString.prefix(8)).sock").path
        let server = try await PrivateRedisServer.make(extraArguments: ["--unixsocket", path, "--unixsocketperm", "700"])
        _ = server
        let status = RedisStatusTracker(client: try Self.client("unix://\(path)?db=1"))
        try await status.setStatus(JobStatus(state: .completed), for: "over a socket")
        #expect(try await status.status(for: "over a socket")?.state == .completed)
    }
}
