import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// Cancelling a task blocked in a Redis read shuts its socket down: the call
/// throws `cancelled`, the pool closes that connection and hands out a
/// working one. The blocking read is a `BLPOP` on a key nobody pushes to,
/// with a server-side timeout of 0 (forever) and a command timeout of a
/// minute, so only the cancellation can end it; waits are for events (the
/// server reporting the client blocked), and the one bound on elapsed time
/// only tells a refusal from a hang.
@Suite("Redis cancellation", .enabled(if: TestServers.redisEnabled))
struct RedisCancellationTests {
    /// Far above what a cancel takes, and far below "never"; the error code tells a cancel from a timeout.
    static let refusalBound: Duration = TestServers.hangBound

    /// `CLIENT LIST` lines of the clients named `name`.
    static func clients(named name: String, on probe: RedisConnection) async throws -> [String] {
        let list = try await probe.send("CLIENT", "LIST").string ?? ""
        return list.split(separator: "\n").map(String.init).filter { $0.contains(" name=\(name) ") }
    }

    @Test func cancelledBlockingReadThrowsCancelledAndThePoolHandsOutAWorkingConnection() async throws {
        let url = try TestServers.requireRedisURL()
        let client = RedisClient(
            configuration: try RedisConnectionConfiguration(url: url, commandTimeout: .seconds(60)),
            pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: TestServers.scaled(.seconds(60))))
        let probe = try await RedisConnection.connect(configuration: try RedisConnectionConfiguration(url: url))
        let name = "sktest-cancel-" + UUID().uuidString.prefix(8).lowercased()
        let key = TestRedis.uniquePrefix("cancel") + ":never-pushed"

        let blocked = Task {
            try await client.withConnection { connection in
                try await connection.send("CLIENT", "SETNAME", RedisArgument(name))
                return try await connection.send("BLPOP", RedisArgument(key), 0)
            }
        }
        // The event: the server reports our named client blocked in BLPOP.
        let deadline = ContinuousClock.now + TestServers.scaled(.seconds(60))
        var seenBlocked = false
        while !seenBlocked && ContinuousClock.now < deadline {
            seenBlocked = try await Self.clients(named: name, on: probe).contains { $0.contains("cmd=blpop") && $0.contains("flags=b") }
            if !seenBlocked { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(seenBlocked, "the BLPOP never blocked on the server")

        let cancelledAt = ContinuousClock.now
        blocked.cancel()
        let outcome = await blocked.result
        let elapsed = ContinuousClock.now - cancelledAt
        if case .failure(let error) = outcome {
            #expect((error as? ScaleKitError)?.code == .cancelled, "\(error)")
        } else {
            Issue.record("BLPOP returned although nothing was pushed and its task was cancelled")
        }
        #expect(elapsed < Self.refusalBound, "the cancelled read took \(elapsed)")

        // The pool closed the interrupted connection and opens a working one.
        var statistics = client.statistics()
        #expect(statistics.checkedOut == 0 && statistics.closed == 1, "\(statistics)")
        let pong = try await client.withConnection { connection in try await connection.send("PING") }
        #expect(pong == .status("PONG"))
        statistics = client.statistics()
        #expect(statistics.checkedOut == 0 && statistics.created == 2, "\(statistics)")
        // The server lets go of the closed client (an event: it notices the closed socket).
        var gone = false
        while !gone && ContinuousClock.now < deadline {
            gone = try await Self.clients(named: name, on: probe).isEmpty
            if !gone { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(gone)

        await probe.close()
        await client.shutdown()
    }

    /// Used directly (no pool), the connection drops the interrupted context
    /// and reconnects on the next call.
    @Test func directConnectionReconnectsAfterACancelledRead() async throws {
        let url = try TestServers.requireRedisURL()
        let connection = try await RedisConnection.connect(
            configuration: try RedisConnectionConfiguration(url: url, commandTimeout: .seconds(60)))
        let probe = try await RedisConnection.connect(configuration: try RedisConnectionConfiguration(url: url))
        let name = "sktest-cancel-direct-" + UUID().uuidString.prefix(8).lowercased()
        try await connection.send("CLIENT", "SETNAME", RedisArgument(name))
        let key = TestRedis.uniquePrefix("cancel-direct") + ":never-pushed"

        let blocked = Task { try await connection.send("BLPOP", RedisArgument(key), 0) }
        let deadline = ContinuousClock.now + TestServers.scaled(.seconds(60))
        var seenBlocked = false
        while !seenBlocked && ContinuousClock.now < deadline {
            seenBlocked = try await Self.clients(named: name, on: probe).contains { $0.contains("cmd=blpop") }
            if !seenBlocked { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(seenBlocked)
        blocked.cancel()
        let outcome = await blocked.result
        if case .failure(let error) = outcome {
            #expect((error as? ScaleKitError)?.code == .cancelled, "\(error)")
        } else {
            Issue.record("BLPOP returned although its task was cancelled")
        }
        #expect(await connection.prepareForReuse() == false)
        #expect(try await connection.send("PING") == .status("PONG"))
        await connection.close()
        await probe.close()
    }
}
