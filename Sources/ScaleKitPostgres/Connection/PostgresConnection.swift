import CLibPQ
import Foundation
package import Logging
@_spi(Benchmarks) package import ScaleKit

/// One libpq connection (`PGconn`), used by one caller at a time.
///
/// Every libpq call blocks, so the actor runs on its own serial dispatch
/// queue (`DispatchQueueExecutor`): a slow query holds that queue's thread,
/// never a thread of Swift's cooperative pool. Statements take parameters
/// only (never values spliced into SQL) and are prepared once per connection,
/// or sent unnamed every time with `statement_cache=off` in the URL
/// (``PostgresStatementCache``: for PgBouncer in transaction pooling).
/// Every failure is a ``/ScaleKit/ScaleKitError`` whose `nativeCode` is the SQLSTATE.
///
/// Built for a ``/ScaleKit/ConnectionPool``: ``prepareForReuse()`` rolls back a
/// transaction left open (or refuses a connection in an unknown state), and
/// ``ping()`` is one `SELECT 1` round trip.
///
/// Cancelling the task that awaits `query(_:name:_:prepared:)` or
/// `execute(_:name:)` sends the server a cancel request (`PQcancel`)
/// for the statement in flight; the call throws ``/ScaleKit/ScaleKitError/Code/cancelled``
/// (SQLSTATE 57014) and the connection stays usable: an implicit transaction
/// is rolled back by the server, an explicit one is left failed for
/// ``prepareForReuse()`` to roll back. When the request cannot be sent, or
/// the server does not answer it within ``cancelGrace``, the connection is
/// closed instead, never reused in an unknown state. The synchronous
/// overloads (used inside ``transaction(_:)``) cannot see the task and are
/// not interrupted.
package actor PostgresConnection: PooledConnection {
    private let executor = DispatchQueueExecutor(label: "scalekit.postgres")
    private let url: String
    /// Woken by a cancelled task's handler; watched while a statement runs.
    private let wakeUp: PostgresWakeUpPipe
    /// Lets a cancellation reach only the statement it was meant for.
    private let interruptGate = InterruptGate<PostgresWakeUpPipe>()
    private let logger: Logger
    private let commandTimeout: Duration?
    private var handle: PostgresConnectionHandle?
    /// SQL text → the name it was prepared under on this connection.
    private var preparedStatements: [String: String] = [:]
    /// Whether statements are prepared once (named) or sent unnamed each time.
    package nonisolated let statementCache: PostgresStatementCache

    /// Every method of the connection runs on its own dispatch queue, so the
    /// blocking libpq calls never occupy a thread of Swift's cooperative pool.
    package nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// The server and database, with any password redacted, for messages.
    package nonisolated let redactedURL: String

    /// The default ``connect(url:logger:commandTimeout:)`` command timeout: 30 s.
    package static let defaultCommandTimeout: Duration = PostgresVideoRepository.defaultCommandTimeout

    /// How long a cancelled statement waits for the server to confirm the
    /// cancel request (2 s) before the connection is closed instead.
    package static let cancelGrace: Duration = .seconds(2)

    private init(
        url: String, statementCache: PostgresStatementCache, logger: Logger, commandTimeout: Duration?,
        wakeUp: PostgresWakeUpPipe
    ) {
        self.url = url
        self.wakeUp = wakeUp
        self.statementCache = statementCache
        self.logger = logger
        self.commandTimeout = commandTimeout
        self.redactedURL = redactingCredentials(in: url)
    }

    /// Opens a connection.
    ///
    /// `url` is any libpq connection string: a `postgresql://` or
    /// `postgres://` URI (with `sslmode`, `options`, `application_name` and
    /// every other libpq parameter passed through) or `key=value` pairs.
    /// ScaleKit adds `connect_timeout=10` and `fallback_application_name=scalekit`
    /// unless the URL sets them, and always uses `client_encoding=UTF8`.
    /// ScaleKit's own `statement_cache=on|off` (``PostgresStatementCache``)
    /// is taken out of the URL before libpq sees it.
    ///
    /// `commandTimeout` bounds the wait for each statement's answer (libpq
    /// itself waits forever for a server that stops answering); `nil` waits
    /// forever. A statement that times out closes the connection, because its
    /// protocol state is unknown, and may still complete on the server.
    ///
    /// Blocks a dedicated thread (not the cooperative pool) while connecting.
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/connectionFailed`` when the server cannot be
    ///   reached or refuses the connection, ``/ScaleKit/ScaleKitError/Code/timeout`` when it
    ///   did not answer within `connect_timeout`; ``/ScaleKit/ScaleKitError/Code/invalidConfiguration``
    ///   for a `statement_cache` other than `on`/`off`; the message never contains the password.
    package static func connect(
        url: String, logger: Logger = .current, commandTimeout: Duration? = defaultCommandTimeout
    ) async throws(ScaleKitError) -> PostgresConnection {
        let (libpqURL, statementCache) = try PostgresStatementCache.split(url)
        let connection = PostgresConnection(
            url: libpqURL, statementCache: statementCache, logger: logger, commandTimeout: commandTimeout,
            wakeUp: try PostgresWakeUpPipe())
        try await connection.open()
        return connection
    }

    private func open() throws(ScaleKitError) {
        // Keywords before `dbname` are defaults the URL may override; those after it win.
        let parameters: [(String, String)] = [
            ("connect_timeout", "10"),
            ("fallback_application_name", "scalekit"),
            ("dbname", url),
            ("client_encoding", "UTF8"),
        ]
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keywordPointers = keywords.map { UnsafePointer($0) } + [nil]
        let valuePointers = values.map { UnsafePointer($0) } + [nil]
        let connection = PQconnectdbParams(keywordPointers, valuePointers, 1)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let error = PostgresErrors.connectFailed(connection, target: redactedURL)
            if let connection { PQfinish(connection) }
            throw error
        }
        // libpq prints server notices ("relation already exists, skipping") to
        // stderr by default; they are expected during migrations, so drop them.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = PostgresConnectionHandle(connection)
    }

    /// Runs one parameterized statement (prepared on first use, unless
    /// ``statementCache`` is `off`) and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: the statement with `$1`, `$2`… placeholders; never build it from values.
    ///   - name: names the statement in errors and logs (its arguments never appear).
    ///   - arguments: one text value per placeholder; `nil` is SQL NULL.
    ///   - prepared: `false` sends the statement unnamed even with the cache on (one-off statements).
    /// - Throws: ``/ScaleKit/ScaleKitError`` carrying the SQLSTATE; ``/ScaleKit/ScaleKitError/Code/connectionFailed``
    ///   when the connection is lost; ``/ScaleKit/ScaleKitError/Code/timeout`` when no answer came
    ///   within the command timeout (the connection is then closed).
    ///   - prepared: `false` for one-off statements (schema migrations), which are
    ///     sent with their parameters but not kept prepared.
    ///
    /// Synchronous: for use inside ``transaction(_:)`` and other isolated
    /// code; it does not react to task cancellation. Awaited from outside
    /// the actor, the cancellable overload is the one called.
    @discardableResult
    package func query(_ sql: String, name: String, _ arguments: [String?] = [], prepared: Bool = true)
        throws(ScaleKitError) -> [PostgresRow]
    {
        try runQuery(sql, name: name, arguments, prepared: prepared)
    }

    /// Runs one parameterized statement, as the synchronous overload does,
    /// and stops it when the calling task is cancelled.
    ///
    /// - Throws: as the synchronous overload; ``/ScaleKit/ScaleKitError/Code/cancelled``
    ///   when the task was cancelled: before the statement was sent (nothing
    ///   ran), or while it ran (the server cancelled it, SQLSTATE 57014, or
    ///   the connection was closed because the cancel got no answer).
    @discardableResult
    package func query(_ sql: String, name: String, _ arguments: [String?] = [], prepared: Bool = true)
        async throws(ScaleKitError) -> [PostgresRow]
    {
        try await cancellable(name) { connection throws(ScaleKitError) in
            try connection.runQuery(sql, name: name, arguments, prepared: prepared)
        }
    }

    /// Runs SQL without parameters (schema changes, `BEGIN`, `COMMIT`); several
    /// statements separated by semicolons run as one implicit transaction.
    /// Synchronous: not interrupted by task cancellation (see the async overload).
    package func execute(_ sql: String, name: String) throws(ScaleKitError) {
        try runExecute(sql, name: name)
    }

    /// Runs SQL without parameters, as the synchronous overload does, and
    /// stops it when the calling task is cancelled (``/ScaleKit/ScaleKitError/Code/cancelled``).
    package func execute(_ sql: String, name: String) async throws(ScaleKitError) {
        try await cancellable(name) { connection throws(ScaleKitError) in try connection.runExecute(sql, name: name) }
    }

    private func runQuery(_ sql: String, name: String, _ arguments: [String?], prepared: Bool) throws(ScaleKitError)
        -> [PostgresRow]
    {
        let connection = try liveConnection(before: name)
        let count = Int32(arguments.count)
        if prepared && statementCache == .on {
            let statementName = try prepare(sql, name: name, on: connection)
            return try run(name, on: connection) {
                withCStringArray(arguments) { PQsendQueryPrepared(connection, statementName, count, $0, nil, nil, 0) }
            }
        }
        return try run(name, on: connection) {
            withCStringArray(arguments) { PQsendQueryParams(connection, sql, count, nil, $0, nil, nil, 0) }
        }
    }

    private func runExecute(_ sql: String, name: String) throws(ScaleKitError) {
        let connection = try liveConnection(before: name)
        _ = try run(name, on: connection) { PQsendQuery(connection, sql) }
    }

    /// Runs `body` with the task's cancellation turned into a cancel request
    /// for whatever statement `body` is waiting for. A task cancelled before
    /// anything was sent gets ``/ScaleKit/ScaleKitError/Code/cancelled`` at once.
    private func cancellable<T>(
        _ name: String, _ body: (isolated PostgresConnection) throws(ScaleKitError) -> T
    ) async throws(ScaleKitError) -> T {
        if Task.isCancelled {
            throw ScaleKitError(.cancelled, "the task was cancelled before PostgreSQL statement '\(name)' was sent")
        }
        let (gate, wakeUp) = (interruptGate, self.wakeUp)
        return try await gate.withInterruptOnCancel(target: wakeUp, interrupt: { $0.wake() }) { () throws(ScaleKitError) -> T in
            // No wake-up can be written once the target is cleared; read any that was.
            defer { if gate.clearTarget().delivered { wakeUp.drain() } }
            return try body(self)
        }
    }

    /// Runs `body` inside `BEGIN` … `COMMIT` on this connection; rolls back
    /// when `body` throws. The whole transaction stays on this connection.
    package func transaction<T: Sendable>(
        _ body: @Sendable (isolated PostgresConnection) throws(ScaleKitError) -> T
    ) throws(ScaleKitError) -> T {
        try execute("BEGIN", name: "begin")
        do {
            let result = try body(self)
            try execute("COMMIT", name: "commit")
            return result
        } catch {
            if let connection = handle?.pointer, PQtransactionStatus(connection) != PQTRANS_IDLE {
                _ = try? execute("ROLLBACK", name: "rollback")
            }
            throw error
        }
    }

    /// `SELECT 1`: throws ``/ScaleKit/ScaleKitError/Code/connectionFailed`` when the connection is dead.
    /// Not interrupted by task cancellation (the pool pings at checkout).
    package func ping() async throws {
        _ = try runQuery("SELECT 1", name: "ping", [], prepared: true)
    }

    /// Makes the connection clean for its next user: a transaction left open
    /// (or failed) is rolled back. Returns `false` — close it — when the
    /// connection is broken, busy, or the rollback fails.
    package func prepareForReuse() async -> Bool {
        guard let connection = handle?.pointer, PQstatus(connection) == CONNECTION_OK else { return false }
        switch PQtransactionStatus(connection) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            logger.debug("rolling back a transaction left open on a returned connection")
            do {
                // Never interrupted: this runs on a cancelled caller's task too.
                try runExecute("ROLLBACK", name: "rollback on return")
            } catch {
                return false
            }
            return PQtransactionStatus(connection) == PQTRANS_IDLE
        default:
            return false  // a command still running, or the state is unknown
        }
    }

    /// Closes the connection (libpq's `PQfinish`). Later calls throw
    /// ``/ScaleKit/ScaleKitError/Code/connectionClosed`` and send nothing.
    package func close() async {
        handle = nil
        preparedStatements.removeAll()
    }

    /// Whether a transaction is open (or failed and not yet rolled back), as libpq reports it.
    package var isInTransaction: Bool {
        guard let connection = handle?.pointer else { return false }
        let status = PQtransactionStatus(connection)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// The connection, after checking without a round trip that the server
    /// has not closed it (PQconsumeInput reads a pending shutdown notice or
    /// end-of-file). A failure here means nothing was sent: safe to retry.
    private func liveConnection(before statement: String) throws(ScaleKitError) -> OpaquePointer {
        guard let connection = handle?.pointer else {
            throw ScaleKitError(
                .connectionClosed, "the PostgreSQL connection is closed", underlying: PostgresStatementNotSent())
        }
        guard PQstatus(connection) == CONNECTION_OK, PQconsumeInput(connection) == 1,
            PQstatus(connection) == CONNECTION_OK
        else {
            throw PostgresErrors.notSent(connection, statement: statement)
        }
        return connection
    }

    private func prepare(_ sql: String, name: String, on connection: OpaquePointer) throws(ScaleKitError) -> String {
        if let prepared = preparedStatements[sql] { return prepared }
        let statementName = "scalekit_\(preparedStatements.count + 1)"
        _ = try run(name, on: connection) { PQsendPrepare(connection, statementName, sql, 0, nil) }
        preparedStatements[sql] = statementName
        return statementName
    }

    /// Sends a statement with `send` (a `PQsend…` call), waits, for at most
    /// the command timeout, for the result `PQexec` would return, and
    /// returns its rows. A cancellation of the calling task (inside
    /// ``cancellable(_:_:)``) becomes a cancel request while it waits.
    private func run(_ name: String, on connection: OpaquePointer, _ send: () -> Int32) throws(ScaleKitError)
        -> [PostgresRow]
    {
        if interruptGate.isRequested {
            throw ScaleKitError(.cancelled, "the task was cancelled before PostgreSQL statement '\(name)' was sent")
        }
        guard send() == 1 else { throw PostgresErrors.statementFailed(nil, connection, statement: name) }
        let canceller = handle
        var cancellation = PostgresResultWait.Cancellation(
            wakeUp: wakeUp.readEnd, sendCancel: { canceller?.sendCancel() ?? false }, grace: Self.cancelGrace)
        let result: OpaquePointer?
        do {
            result = try PostgresResultWait.result(
                of: connection, deadline: commandTimeout.map { ContinuousClock.now + $0 }, cancellation: &cancellation)
        } catch .timedOut {
            // The protocol state is unknown (a reply may still arrive): never reuse the connection.
            closeHandle()
            throw ScaleKitError(
                .timeout,
                "PostgreSQL statement '\(name)' got no answer within \(commandTimeout ?? .zero) from \(redactedURL); "
                    + "the connection was closed (the statement may still have run)")
        } catch .cancelNotSent, .cancelUnanswered {
            closeHandle()
            throw ScaleKitError(
                .cancelled,
                "PostgreSQL statement '\(name)' was cancelled with its task, but the server did not confirm the cancel "
                    + "within \(Self.cancelGrace); the connection was closed (the statement may still have run)")
        } catch {
            throw PostgresErrors.statementFailed(nil, connection, statement: name)
        }
        do {
            return try rows(of: result, connection: connection, statement: name)
        } catch where cancellation.sent && error.nativeCode == "57014" {
            // 57014 after our own cancel request: the task's cancellation, not statement_timeout.
            throw ScaleKitError(
                .cancelled, "PostgreSQL statement '\(name)' was cancelled with its task", nativeCode: "57014")
        }
    }

    private func closeHandle() {
        handle = nil
        preparedStatements.removeAll()
    }

    private func rows(of pointer: OpaquePointer?, connection: OpaquePointer, statement: String) throws(ScaleKitError)
        -> [PostgresRow]
    {
        guard let pointer else { throw PostgresErrors.statementFailed(nil, connection, statement: statement) }
        let result = PostgresResult(pointer)
        switch result.status {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE: return result.rows()
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY: return []
        default: throw PostgresErrors.statementFailed(pointer, connection, statement: statement)
        }
    }
}

/// Calls `body` with NUL-terminated copies of `strings` (`nil` stays a null pointer).
private func withCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return body(copies.map { pointer in pointer.map { UnsafePointer($0) } })
}
