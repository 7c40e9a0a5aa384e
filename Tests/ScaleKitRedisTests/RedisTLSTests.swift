import Foundation
import ScaleKit
@testable import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

/// `rediss://` against the TLS-only redis-servers the test script starts:
/// one that checks a client certificate when one is offered, one that
/// requires it. Certificates come from a throwaway CA made with openssl.
@Suite(.enabled(if: TestRedisTLS.enabled))
struct RedisTLSTests {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    struct Setup {
        var url: String
        var mutualURL: String
        var ca: String
        var wrongCA: String
        var certificate: String
        var key: String
    }

    static func setup() throws -> Setup {
        func value(_ name: String) throws -> String {
            guard let value = environment["SCALEKIT_TEST_REDIS_\(name)"] else {
                throw TestServers.Missing(description: "SCALEKIT_TEST_REDIS_\(name) is not set: run the tests through scripts/test.sh")
            }
            return value
        }
        return Setup(
            url: try value("TLS_URL"), mutualURL: try value("MTLS_URL"), ca: try value("TLS_CA"), wrongCA: try value("TLS_WRONG_CA"),
            certificate: try value("TLS_CLIENT_CERT"), key: try value("TLS_CLIENT_KEY"))
    }

    private func client(_ url: String, _ tls: RedisConnectionConfiguration.TLS?) throws -> RedisClient {
        var configuration = try RedisConnectionConfiguration(url: url, connectTimeout: TestServers.scaled(.seconds(5)))
        configuration.tls = tls
        return RedisClient(configuration: configuration)
    }

    /// Calls `ping` and returns the error it threw (failing when it did not throw).
    private func refusal(_ client: RedisClient) async throws -> ScaleKitError {
        defer { Task { await client.shutdown() } }
        do {
            try await client.ping()
        } catch let error as ScaleKitError {
            return error
        }
        Issue.record("the connection was not refused")
        throw TestServers.Missing(description: "not refused")
    }

    @Test func aGoodCAConnectsAndTheTrackersConform() async throws {
        let setup = try Self.setup()
        let client = try client(setup.url, .init(caFile: setup.ca))
        try await client.ping()
        let prefix = TestRedis.uniquePrefix("tls-api")
        try await APITrackingConformance.run { limits, clock in
            RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: limits, keyPrefix: "\(prefix):\(UUID())"),
                clock: clock, timeSource: .trackerClock)
        }
        // Large values cross many TLS records each way.
        let tracker = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("tls-status")))
        let big = String(repeating: "é🎧", count: 100_000)
        try await tracker.mergeStatus(["transcript": .string(big)], for: "job")
        #expect(try await tracker.status(for: "job")?.fields["transcript"] == .string(big))
        await client.shutdown()
    }

    /// 16 tasks share one TLS connection, calls small and larger than a TLS
    /// record or a socket buffer mixed: callers encrypt and write their own
    /// commands while the loop's thread decrypts, and every call gets its own reply.
    @Test func manyTasksShareOneTLSConnectionAndGetTheirOwnReplies() async throws {
        let setup = try Self.setup()
        let client = try client(setup.url, .init(caFile: setup.ca))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for call in 0..<100 {
                        let size = [0, 100, 20_000, 300_000][(task + call) % 4 == 0 ? call % 4 : 0]
                        let payload = "\(task):\(call):" + String(repeating: "é", count: size)
                        let reply = try await client.withExecutor { executor in try await executor.send("ECHO", RedisArgument(payload)) }
                        #expect(reply == .bulkString(Array(payload.utf8)), "task \(task) call \(call) got another reply")
                    }
                }
            }
            try await group.waitForAll()
        }
        await client.shutdown()
    }

    @Test func aWrongCAIsRefusedWithATypedError() async throws {
        let setup = try Self.setup()
        let error = try await refusal(try client(setup.url, .init(caFile: setup.wrongCA)))
        #expect(error.code == .connectionFailed && error.nativeCode == "TLS_CERTIFICATE", "\(error)")
        #expect(error.message.contains("does not verify"), "\(error)")
    }

    /// No CA file: the system's roots, which never signed the test CA.
    @Test func theSystemRootsRefuseAPrivateCA() async throws {
        let setup = try Self.setup()
        let error = try await refusal(try client(setup.url, .init()))
        #expect(error.code == .connectionFailed && error.nativeCode == "TLS_CERTIFICATE", "\(error)")
    }

    /// The certificate names 127.0.0.1 and localhost, not this name.
    @Test func aCertificateForAnotherNameIsRefused() async throws {
        let setup = try Self.setup()
        let error = try await refusal(try client(setup.url, .init(caFile: setup.ca, serverName: "redis.example.com")))
        #expect(error.code == .connectionFailed && error.nativeCode == "TLS_CERTIFICATE", "\(error)")
        // …while "localhost" is on the certificate, sent as SNI and checked.
        let named = try client(setup.url, .init(caFile: setup.ca, serverName: "localhost"))
        try await named.ping()
        await named.shutdown()
    }

    @Test func mutualTLSNeedsTheClientCertificate() async throws {
        let setup = try Self.setup()
        let mutual = try client(setup.mutualURL, .init(caFile: setup.ca, certificateFile: setup.certificate, keyFile: setup.key))
        try await mutual.ping()
        try await mutual.withConnection { connection in
            _ = try await connection.send("SET", "tls:mutual", "yes")
            #expect(try await connection.send("GET", "tls:mutual").string == "yes")
        }
        await mutual.shutdown()
        let error = try await refusal(try client(setup.mutualURL, .init(caFile: setup.ca)))
        #expect(error.code == .connectionFailed && error.nativeCode?.hasPrefix("TLS_") == true, "\(error)")
    }

    @Test func aClientCertificateThatCannotBeReadIsAConfigurationError() async throws {
        let setup = try Self.setup()
        let error = try await refusal(try client(setup.url, .init(caFile: setup.ca, certificateFile: setup.certificate, keyFile: setup.ca)))
        #expect(error.code == .invalidConfiguration, "\(error)")
        let missing = try await refusal(try client(setup.url, .init(caFile: "/nonexistent/ca.pem")))
        #expect(missing.code == .invalidConfiguration && missing.message.contains("/nonexistent/ca.pem"), "\(missing)")
    }

    /// Plain text to a TLS-only port: a clear connection error, not a hang.
    @Test func plainTextToATLSPortFailsClearly() async throws {
        let setup = try Self.setup()
        let error = try await refusal(try client(setup.url.replacingOccurrences(of: "rediss://", with: "redis://"), nil))
        #expect(error.code == .connectionFailed, "\(error)")
    }

    /// Cancelling a blocked read over TLS shuts the socket down: `cancelled`, and the next call works.
    @Test func cancellingABlockedReadOverTLS() async throws {
        let setup = try Self.setup()
        let client = try client(setup.url, .init(caFile: setup.ca))
        let key = TestRedis.uniquePrefix("tls-blpop")
        let blocked = Task {
            try await client.withConnection { connection in try await connection.send("BLPOP", RedisArgument(key), 0) }
        }
        try await Task.sleep(for: .milliseconds(200))
        blocked.cancel()
        let outcome = await blocked.result
        #expect(throws: ScaleKitError.self) { try outcome.get() }
        if case .failure(let error as ScaleKitError) = outcome { #expect(error.code == .cancelled, "\(error)") }
        try await client.ping()
        await client.shutdown()
    }
}

enum TestRedisTLS {
    static var enabled: Bool { ProcessInfo.processInfo.environment["SCALEKIT_TEST_REDIS_TLS_URL"] != nil || TestServers.areRequired }
}
