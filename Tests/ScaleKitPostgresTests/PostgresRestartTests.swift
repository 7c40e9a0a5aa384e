import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

/// The server goes away under a running repository and comes back: calls
/// made while it is down fail fast with a connection error, calls after it
/// is back succeed on the same repository, and no connection leaks.
@Suite("PostgreSQL restart", .serialized, .enabled(if: PrivatePostgresServer.isAvailable))
struct PostgresRestartTests {
    @Test func repositorySurvivesAServerRestart() async throws {
        let server = try await PrivatePostgresServer.start()
        let repository = try PostgresVideoRepository(
            url: server.url, pool: ConnectionPoolConfiguration(size: 3, maxOverflow: 3, timeout: .seconds(10)),
            time: .clock(ManualWallClock()))
        do {
            try await exercise(repository, server)
        } catch {
            await repository.shutdown()
            await server.destroy()
            throw error
        }
        await repository.shutdown()
        #expect(repository.pool.statistics().open == 0)
        await server.destroy()
    }

    private func exercise(_ repository: PostgresVideoRepository, _ server: PrivatePostgresServer) async throws {
        // Warm several pooled connections.
        let before = try await claimMany(repository, prefix: "before", count: 6)

        // 1. Restart with no call in between: every pooled connection is dead
        //    (some idle for less than the pre-ping threshold); calls must still succeed.
        try await server.stop()
        try await server.startAgain()
        let stored = try await repository.video(id: "before-0")
        #expect(stored?.leaseOwner == before[0].token)
        _ = try await claimMany(repository, prefix: "after-restart", count: 6)
        try await repository.completeVideo(id: "before-1", token: before[1].token!)

        // 2. Calls while the server is down fail fast with a connection error.
        try await server.stop()
        let started = ContinuousClock.now
        await #expect {
            try await repository.claimVideo(id: "while-down", title: nil, originalURL: nil, lease: .seconds(60))
        } throws: { ($0 as? ScaleKitError)?.code == .connectionFailed }
        #expect(ContinuousClock.now - started < TestServers.hangBound)  // a refusal, not a hang (the code tells it from a timeout)

        // 3. Back up: the same repository works again, and the pool is idle afterwards.
        try await server.startAgain()
        let claims = try await claimMany(repository, prefix: "back", count: 8)
        #expect(claims.allSatisfy { $0.outcome == .created })
        #expect(try await repository.video(id: "before-1")?.state == .completed)
        let statistics = repository.pool.statistics()
        #expect(statistics.checkedOut == 0 && statistics.waiters == 0 && statistics.opening == 0)
        #expect(statistics.open <= 6)
    }

    private func claimMany(_ repository: PostgresVideoRepository, prefix: String, count: Int) async throws -> [VideoClaim] {
        try await withThrowingTaskGroup(of: (Int, VideoClaim).self) { group in
            for index in 0..<count {
                group.addTask {
                    (index, try await repository.claimVideo(id: "\(prefix)-\(index)", title: nil, originalURL: nil, lease: .seconds(60)))
                }
            }
            return try await group.reduce(into: [VideoClaim?](repeating: nil, count: count)) { $0[$1.0] = $1.1 }.map { $0! }
        }
    }
}
