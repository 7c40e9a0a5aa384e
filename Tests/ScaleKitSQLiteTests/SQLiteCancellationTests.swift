import Dispatch
import Foundation
import ScaleKit
@testable import ScaleKitSQLite
import ScaleKitTestSupport
import ScaleKitTesting
import Synchronization
import Testing

/// Cancelling a task reaches SQLite: a claim waiting for another
/// connection's write lock gives up at the busy handler's next step, a
/// running statement is stopped with `sqlite3_interrupt`, the call throws
/// `cancelled`, and the connection serves the next claim, outside any
/// transaction. Waits are for events (a lock taken, a busy-handler sleep);
/// the one elapsed-time bound only tells a refusal from a hang.
@Suite("SQLite cancellation")
struct SQLiteCancellationTests {
    /// Far above what a cancel takes, and far below "never"; the error code
    /// (`cancelled`, not the busy timeout's `timeout`) tells the two apart.
    static let refusalBound: Duration = TestServers.hangBound

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .acquiring) }
        func set() { value.store(true, ordering: .releasing) }
    }

    /// Holds `BEGIN IMMEDIATE` (the file's write lock) on a connection of its
    /// own, its queue's thread parked until ``release()``.
    final class WriteLockHolder: Sendable {
        let database: SQLiteDatabase
        let locked = Flag()
        private let released = DispatchSemaphore(value: 0)
        private let holding: Task<Void, any Error>

        init(path: String) async throws {
            let database = SQLiteDatabase(path: path, busyTimeout: .seconds(60))
            try await database.open()
            self.database = database
            let (locked, released) = (self.locked, self.released)
            holding = Task {
                try await database.withConnection { connection throws(ScaleKitError) in
                    try connection.immediateTransaction { () throws(ScaleKitError) in
                        locked.set()
                        released.wait()  // on the holder's own queue, never the cooperative pool
                    }
                }
            }
            let deadline = ContinuousClock.now + TestServers.scaled(.seconds(60))
            while !locked.isSet && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(locked.isSet)
        }

        func release() async throws {
            released.signal()
            try await holding.value
            await database.close()
        }
    }

    /// Whether a third connection finds the write lock taken (BEGIN IMMEDIATE
    /// with no busy wait fails with SQLITE_BUSY).
    static func writeLockIsTaken(path: String) async throws -> Bool {
        let probe = SQLiteDatabase(path: path, busyTimeout: .zero)
        try await probe.open()
        defer { Task { await probe.close() } }
        do {
            try await probe.withConnection { connection throws(ScaleKitError) in
                try connection.immediateTransaction { () throws(ScaleKitError) in }
            }
            return false
        } catch {
            return error.nativeCode.flatMap { Int32($0) }.map { $0 & 0xFF } == 5  // SQLITE_BUSY
        }
    }

    @Test func cancelledClaimWaitingForTheWriteLockThrowsCancelled() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("videos.sqlite")
        let repository = try await SQLiteVideoRepository(path: path, time: .clock(ManualWallClock()), busyTimeout: .seconds(60))
        let holder = try await WriteLockHolder(path: path)

        let waitsBefore = repository.database.lockWaits.count.load(ordering: .relaxed)
        let claim = Task { try await repository.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(60)) }
        // The event: the claim's busy handler is sleeping on the holder's lock.
        let deadline = ContinuousClock.now + TestServers.scaled(.seconds(60))
        while repository.database.lockWaits.count.load(ordering: .relaxed) == waitsBefore && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(repository.database.lockWaits.count.load(ordering: .relaxed) > waitsBefore, "the claim never waited for the lock")

        let cancelledAt = ContinuousClock.now
        claim.cancel()
        let outcome = await claim.result
        let elapsed = ContinuousClock.now - cancelledAt
        if case .failure(let error) = outcome {
            #expect((error as? ScaleKitError)?.code == .cancelled, "\(error)")
        } else {
            Issue.record("the claim returned although its task was cancelled and the lock was held")
        }
        #expect(elapsed < Self.refusalBound, "the cancelled claim took \(elapsed)")
        // The claim stopped because of the cancel, not because the lock went away.
        #expect(holder.locked.isSet)
        #expect(try await Self.writeLockIsTaken(path: path))

        try await holder.release()
        // The same connection claims normally: it is not left inside a transaction.
        let claimed = try await repository.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(60))
        #expect(claimed.outcome == .created)
        #expect(try await repository.video(id: "v")?.state == .processing)
        await repository.close()
    }

    /// Without a cancellation the busy handler waits as SQLite's own does:
    /// the whole busy timeout (its sleeps add up to exactly that), then `timeout`.
    @Test func uncancelledWaitStillEndsWithTheBusyTimeout() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("videos.sqlite")
        let repository = try await SQLiteVideoRepository(
            path: path, time: .clock(ManualWallClock()), busyTimeout: .milliseconds(200))
        let holder = try await WriteLockHolder(path: path)
        let started = ContinuousClock.now
        let error = await #expect(throws: ScaleKitError.self) {
            try await repository.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(60))
        }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        try await holder.release()
        #expect(try await repository.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(60)).outcome == .created)
        await repository.close()
    }

    /// A cancellation that lands inside the connection's use but before its
    /// statement starts is not lost: `sqlite3_interrupt` fires at once, and
    /// SQLite clears that flag when the statement starts with none running.
    /// Here the connection's check before the statement refuses it; the
    /// window between that check and `sqlite3_step`, which a test cannot hit
    /// on purpose (the test below once did, under ThreadSanitizer, and its
    /// unbounded query ran forever), is closed by the progress handler, which
    /// reads the same flag while the statement runs.
    @Test func cancellationJustBeforeTheStatementStartsIsNotLost() async throws {
        let folder = try TemporaryFolder()
        let database = SQLiteDatabase(path: folder.path("early.sqlite"), busyTimeout: .seconds(5))
        try await database.open()
        let endless = Task {
            try await database.withConnection { connection throws(ScaleKitError) in
                withUnsafeCurrentTask { $0?.cancel() }
                return try connection.rows(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                    name: "endless")
            }
        }
        let outcome = await endless.result
        try await Self.expectCancelledThenUsable(outcome, database)
    }

    /// A statement that would never end on its own (an unbounded recursive
    /// query) is stopped by `sqlite3_interrupt`; the connection runs the next one.
    @Test func runningStatementIsInterrupted() async throws {
        let folder = try TemporaryFolder()
        let database = SQLiteDatabase(path: folder.path("interrupt.sqlite"), busyTimeout: .seconds(5))
        try await database.open()
        let started = Flag()
        let endless = Task {
            try await database.withConnection { connection throws(ScaleKitError) in
                started.set()
                return try connection.rows(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                    name: "endless")
            }
        }
        let deadline = ContinuousClock.now + TestServers.scaled(.seconds(60))
        while !started.isSet && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let cancelledAt = ContinuousClock.now
        endless.cancel()
        let outcome = await endless.result
        #expect(ContinuousClock.now - cancelledAt < Self.refusalBound)
        try await Self.expectCancelledThenUsable(outcome, database)
    }

    /// The endless statement ended as `cancelled`, and the connection runs the next one.
    static func expectCancelledThenUsable(_ outcome: Result<[SQLiteRow], any Error>, _ database: SQLiteDatabase) async throws {
        if case .failure(let error) = outcome {
            #expect((error as? ScaleKitError)?.code == .cancelled, "\(error)")
        } else {
            Issue.record("the endless statement returned")
        }
        let after = try await database.withConnection { connection throws(ScaleKitError) in
            try connection.rows("SELECT 42", name: "after").first?.integer(0)
        }
        #expect(after == 42)
        await database.close()
    }
}
