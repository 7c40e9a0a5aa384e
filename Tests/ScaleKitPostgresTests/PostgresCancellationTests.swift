import Foundation
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

extension Result {
    /// The error, when this is a failure.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Cancelling a task reaches libpq: the statement it waits for is cancelled
/// on the server (`PQcancel`, SQLSTATE 57014), the call throws `cancelled`,
/// and the connection is either clean or closed, never handed out inside a
/// failed transaction.
///
/// Every wait here is for an event (a backend blocked on the lock, a task's
/// result); the one bound on elapsed time only tells a refusal from a hang.
@Suite("PostgreSQL cancellation", .enabled(if: TestServers.postgresEnabled))
struct PostgresCancellationTests {
    /// Far above what a cancel takes, and far below "never"; the error code
    /// (`cancelled`, not the command timeout's `timeout`) tells the two apart.
    static let refusalBound: Duration = TestServers.hangBound

    /// A session of its own that holds the row lock (`SELECT … FOR UPDATE` in an open transaction).
    struct LockHolder {
        let connection: PostgresConnection
        let pid: String

        static func lock(_ id: String, in schema: String, url: String) async throws -> LockHolder {
            let connection = try await PostgresConnection.connect(url: url)
            let pid = try #require(try await connection.query("SELECT pg_backend_pid()", name: "backend pid").first?[0])
            try await connection.execute("BEGIN", name: "begin")
            let locked = try await connection.query(
                "SELECT video_id FROM \(schema).videos WHERE video_id = $1 FOR UPDATE", name: "lock video", [id])
            #expect(locked.count == 1)
            return LockHolder(connection: connection, pid: pid)
        }

        /// Waits (for the event, not a time) until some backend waits for this session's lock.
        func waitUntilSomeoneIsBlocked(probe: PostgresConnection) async throws {
            let deadline = ContinuousClock.now + TestServers.scaled(.seconds(60))
            while ContinuousClock.now < deadline {
                let blocked = try await probe.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))",
                    name: "blocked by holder", [pid])
                if blocked.first?[0] != "0" { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("no backend ever waited for the lock")
        }

        /// Whether the row is still locked, seen from another session (`NOWAIT` fails with 55P03).
        func rowIsStillLocked(_ id: String, in schema: String, probe: PostgresConnection) async -> Bool {
            do {
                try await probe.execute("BEGIN", name: "begin probe")
                _ = try await probe.query(
                    "SELECT video_id FROM \(schema).videos WHERE video_id = $1 FOR UPDATE NOWAIT", name: "probe lock", [id])
                try await probe.execute("ROLLBACK", name: "end probe")
                return false
            } catch {
                try? await probe.execute("ROLLBACK", name: "end probe")
                return error.nativeCode == "55P03"
            }
        }
    }

    @Test func cancelledClaimBehindARowLockThrowsCancelledAndThePoolCarriesOn() async throws {
        let url = try TestServers.requireDatabaseURL()
        let schema = PostgresTestDatabase.uniqueSchema()
        let repository = try PostgresVideoRepository(
            url: url, pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .seconds(60)), schema: schema,
            time: .clock(ManualWallClock()))
        let id = "locked-video"
        try await repository.enqueueVideo(id: id, title: nil, originalURL: nil)
        let probe = try await PostgresConnection.connect(url: url)
        let holder = try await LockHolder.lock(id, in: schema, url: url)

        let claim = Task { try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(60)) }
        try await holder.waitUntilSomeoneIsBlocked(probe: probe)
        let cancelledAt = ContinuousClock.now
        claim.cancel()
        let outcome = await claim.result
        let elapsed = ContinuousClock.now - cancelledAt

        #expect(throws: ScaleKitError.self) { try outcome.get() }
        if case .failure(let error) = outcome {
            let error = error as? ScaleKitError
            #expect(error?.code == .cancelled, "\(String(describing: error))")
        }
        #expect(elapsed < Self.refusalBound, "the cancelled claim took \(elapsed)")
        // Reported, not judged: on an idle machine it is a few milliseconds (the
        // issue's "within 1 s"); a busy one may delay any task by seconds.
        print("[cancel] a claim behind a row lock threw cancelled \(elapsed) after its task was cancelled")
        // The claim stopped because of the cancel, not because the lock went away.
        #expect(await holder.connection.isInTransaction)
        #expect(await holder.rowIsStillLocked(id, in: schema, probe: probe))
        #expect(repository.pool.statistics().checkedOut == 0)

        try await holder.connection.execute("COMMIT", name: "release lock")
        // The same pool (one connection) serves the next claim normally, outside any transaction.
        let claimed = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(60))
        #expect(claimed.shouldProcess)
        #expect(try await repository.pool.withConnection { await $0.isInTransaction } == false)
        let statistics = repository.pool.statistics()
        #expect(statistics.checkedOut == 0 && statistics.waiters == 0 && statistics.size <= 1)

        await holder.connection.close()
        await probe.close()
        await repository.shutdown()
    }

    /// Inside an explicit transaction the cancelled statement leaves it
    /// failed; `prepareForReuse` (what the pool calls on return) rolls it
    /// back, and the connection then runs statements again. (Had the server
    /// not confirmed the cancel within the grace period, the connection
    /// would be closed instead, and refused for reuse: either is correct,
    /// so the test accepts both rather than depend on the machine's speed.)
    @Test func cancelledStatementInATransactionLeavesItForRollback() async throws {
        let url = try TestServers.requireDatabaseURL()
        let schema = PostgresTestDatabase.uniqueSchema()
        let repository = try PostgresVideoRepository(url: url, schema: schema, time: .clock(ManualWallClock()))
        let id = "locked-in-transaction"
        try await repository.enqueueVideo(id: id, title: nil, originalURL: nil)
        let probe = try await PostgresConnection.connect(url: url)
        let holder = try await LockHolder.lock(id, in: schema, url: url)
        let waiter = try await PostgresConnection.connect(url: url)
        try await waiter.execute("BEGIN", name: "begin")

        let blocked = Task {
            try await waiter.query("SELECT video_id FROM \(schema).videos WHERE video_id = $1 FOR UPDATE", name: "wait for lock", [id])
        }
        try await holder.waitUntilSomeoneIsBlocked(probe: probe)
        let cancelledAt = ContinuousClock.now
        blocked.cancel()
        let outcome = await blocked.result
        #expect(ContinuousClock.now - cancelledAt < Self.refusalBound)
        let error = try #require(outcome.failure as? ScaleKitError, "the blocked statement returned although its task was cancelled")
        #expect(error.code == .cancelled, "\(error)")
        #expect(await holder.rowIsStillLocked(id, in: schema, probe: probe))
        if error.nativeCode == "57014" {
            // The server cancelled the statement: the transaction is failed, and rolled back on return.
            #expect(await waiter.isInTransaction)
            #expect(await waiter.prepareForReuse())
            #expect(await waiter.isInTransaction == false)
            #expect(try await waiter.query("SELECT 1", name: "after").first?[0] == "1")
        } else {
            // The cancel went unconfirmed: the connection was closed and is refused for reuse.
            #expect(await waiter.prepareForReuse() == false)
        }

        try await holder.connection.execute("ROLLBACK", name: "release lock")
        await holder.connection.close()
        await waiter.close()
        await probe.close()
        await repository.shutdown()
    }

    /// A task cancelled before its statement is sent sends nothing and the
    /// connection stays as it was.
    @Test func alreadyCancelledTaskSendsNothing() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServers.requireDatabaseURL())
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await connection.query("SELECT 1", name: "never sent")
        }
        let outcome = await task.result
        if case .failure(let error) = outcome {
            #expect((error as? ScaleKitError)?.code == .cancelled, "\(error)")
        } else {
            Issue.record("a cancelled task's statement ran")
        }
        #expect(try await connection.query("SELECT 2", name: "after").first?[0] == "2")
        await connection.close()
    }
}
