import Foundation
import Glibc
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

/// Servers that are slow, hung or absent: every wait is bounded by a
/// configured timeout and ends in a typed error, and nothing hangs a test.
/// Bounds on elapsed time only tell an answer from a hang: each is far
/// above what the answer takes on any machine, and far below "never".
@Suite("PostgreSQL timeouts")
struct PostgresTimeoutTests {
    /// A port that accepts connections and never answers: `connect_timeout` fires.
    @Test func hungServerTimesOutWhileConnecting() async throws {
        let listener = try SilentListener()
        let url = "postgresql://app:hunter2@127.0.0.1:\(listener.port)/db?connect_timeout=1"
        let started = ContinuousClock.now
        let error = await #expect(throws: ScaleKitError.self) { try await PostgresConnection.connect(url: url) }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(error?.description.contains("hunter2") == false)
        #expect(ContinuousClock.now - started < TestServers.hangBound)

        // Through the repository and its pool: the same typed error, no pool wait.
        let repository = try PostgresVideoRepository(url: url, pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .seconds(60)))
        let claimError = await #expect(throws: ScaleKitError.self) {
            try await repository.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(60))
        }
        #expect(claimError?.code == .timeout)
        let statistics = repository.pool.statistics()
        #expect(statistics.checkedOut == 0 && statistics.waiters == 0 && statistics.opening == 0)
        await repository.shutdown()
    }

    /// Nothing listening: refused, not timed out. With a connect timeout of
    /// ten minutes, the code tells the refusal from a timeout, and an answer
    /// within the hang bound could not have been the timeout; how fast the
    /// refusal comes is the benchmarks' business.
    @Test func nothingListeningFailsFast() async throws {
        let url = "postgresql://app:hunter2@127.0.0.1:\(try SilentListener.closedPort())/db?connect_timeout=600"
        let started = ContinuousClock.now
        let error = await #expect(throws: ScaleKitError.self) { try await PostgresConnection.connect(url: url) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("hunter2") == false)
        #expect(ContinuousClock.now - started < TestServers.hangBound)
    }

    /// A backend frozen with SIGSTOP in the middle of a session (our own
    /// backend process only; the server's other sessions carry on): the
    /// command timeout fires, the connection is dropped, and the repository
    /// works again once the server answers, on a new connection.
    @Test(.enabled(if: TestServers.postgresEnabled)) func frozenBackendHitsTheCommandTimeout() async throws {
        let url = try TestServers.requireDatabaseURL()
        let repository = try PostgresVideoRepository(
            url: url, pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .seconds(60)),
            schema: PostgresTestDatabase.uniqueSchema(), time: .clock(ManualWallClock()), commandTimeout: .seconds(1))
        _ = try await repository.claimVideo(id: "before", title: nil, originalURL: nil, lease: .seconds(60))
        let backend = try await repository.pool.withConnection { connection in
            try await connection.query("SELECT pg_backend_pid()", name: "backend pid").first?[0].flatMap { Int32($0) }
        }
        let pid = try #require(backend)
        #expect(kill(pid, SIGSTOP) == 0)
        let started = ContinuousClock.now
        let error = await #expect(throws: ScaleKitError.self) {
            try await repository.claimVideo(id: "frozen", title: nil, originalURL: nil, lease: .seconds(60))
        }
        kill(pid, SIGCONT)
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < TestServers.hangBound)

        // The same repository carries on with a fresh connection.
        let claim = try await repository.claimVideo(id: "after", title: nil, originalURL: nil, lease: .seconds(60))
        #expect(claim.outcome == .created)
        #expect(try await repository.video(id: "before")?.state == .processing)
        let statistics = repository.pool.statistics()
        #expect(statistics.checkedOut == 0 && statistics.waiters == 0 && statistics.timeouts == 0)
        await repository.shutdown()
    }

    /// The server-side bound: `statement_timeout` in the URL's options cancels
    /// a slow statement on the server (SQLSTATE 57014) and keeps the connection.
    @Test(.enabled(if: TestServers.postgresEnabled)) func statementTimeoutFromTheURLIsATimeout() async throws {
        let base = try TestServers.requireDatabaseURL()
        let url = base + (base.contains("?") ? "&" : "?") + "options=-c%20statement_timeout%3D200"
        let connection = try await PostgresConnection.connect(url: url)
        let error = await #expect(throws: ScaleKitError.self) { try await connection.query("SELECT pg_sleep(5)", name: "slow") }
        #expect(error?.code == .timeout && error?.nativeCode == "57014")
        #expect(try await connection.query("SELECT 1", name: "after").first?[0] == "1")
        await connection.close()
    }

    /// In a pool, a server-side `statement_timeout` (SQLSTATE 57014) is a
    /// clean error reply: the connection says it is reusable, the pool keeps
    /// it, and the next caller gets the same connection.
    @Test(.enabled(if: TestServers.postgresEnabled)) func statementTimeoutDoesNotCloseAPooledConnection() async throws {
        let base = try TestServers.requireDatabaseURL()
        let url = base + (base.contains("?") ? "&" : "?") + "options=-c%20statement_timeout%3D200"
        let pool = ConnectionPool<PostgresConnection>(
            configuration: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .seconds(60)), name: "statement-timeout"
        ) { try await PostgresConnection.connect(url: url) }
        let backendBefore = try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()", name: "pid").first?[0] }
        let error = await #expect(throws: ScaleKitError.self) {
            try await pool.withConnection { try await $0.query("SELECT pg_sleep(5)", name: "slow") }
        }
        #expect(error?.code == .timeout && error?.nativeCode == "57014", "\(String(describing: error))")
        let backendAfter = try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()", name: "pid").first?[0] }
        #expect(backendAfter == backendBefore, "the healthy connection was kept, not replaced")
        let statistics = pool.statistics()
        #expect(statistics.created == 1 && statistics.closed == 0, "\(statistics)")
        await pool.shutdown()
    }
}
