import Foundation
import Logging
import ScaleKit
@testable import ScaleKitRedis
import Testing

/// The redis-server that scripts/with-servers.sh started, if any.
enum TestRedis {
    static let environment = ProcessInfo.processInfo.environment
    static let url = environment["SCALEKIT_TEST_REDIS_URL"]
    static let isRequired = environment["SCALEKIT_REQUIRE_SERVERS"] == "1"
    static var isAvailable: Bool { url != nil }

    /// A fresh prefix, so tests running in parallel on one server never share keys.
    static func uniquePrefix(_ name: String) -> String { "sktest:\(name):\(UUID().uuidString.prefix(8))" }

    static let client: RedisClient? = url.flatMap { try? RedisClient(url: $0) }

    /// Every key matching `pattern` with its TTL in milliseconds (-1: none).
    static func keysWithTTL(matching pattern: String) async throws -> [String: Int64] {
        try await client!.withConnection { connection in
            var result: [String: Int64] = [:]
            var cursor = "0"
            repeat {
                let reply = try await connection.send("SCAN", RedisArgument(cursor), "MATCH", RedisArgument(pattern), "COUNT", 1000)
                let parts = reply.array ?? []
                cursor = parts.first?.string ?? "0"
                for key in parts.dropFirst().first?.array ?? [] {
                    guard let name = key.string else { continue }
                    result[name] = try await connection.send("PTTL", RedisArgument(name)).integer ?? -2
                }
            } while cursor != "0"
            return result
        }
    }
}

@Suite struct RedisServerPresence {
    /// With SCALEKIT_REQUIRE_SERVERS=1 a missing server is a failure, not a skip.
    @Test(.enabled(if: !TestRedis.isAvailable && TestRedis.isRequired))
    func serverIsRequired() {
        Issue.record("SCALEKIT_TEST_REDIS_URL is not set; run the tests through scripts/with-servers.sh")
    }
}
