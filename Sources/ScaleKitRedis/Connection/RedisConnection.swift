package import Logging
@_spi(Benchmarks) package import ScaleKit

/// One connection to Redis, owning one `redisContext`.
///
/// An actor on its own `DispatchQueueExecutor`: hiredis's blocking calls
/// run on that queue's thread, never on Swift's cooperative pool, and one
/// caller at a time uses the context. Every call blocks for at most the
/// configured command timeout (connecting: the connect timeout).
///
/// After a transport failure (server restart, timeout, dropped socket) the
/// context is closed and the call throws; the next call opens a new one,
/// with `AUTH` and `SELECT`, so a long-lived connection survives a server
/// restart. A context whose socket the server has already closed is
/// replaced before a command is sent, so the first call after a restart
/// succeeds. Commands are never re-sent after a failure: an `INCR` whose
/// reply was lost may or may not have run.
///
/// Cancelling the task that awaits `send(_:)`, `pipeline(_:)`
/// or `evaluate(_:keys:arguments:)` stops it: before anything is sent
/// the call throws ``/ScaleKit/ScaleKitError/Code/cancelled`` at once; while it waits
/// for a reply (a blocking command, a server that does not answer), the
/// cancellation handler shuts the socket down (`shutdown(2)`, which hiredis's
/// blocked read sees as end-of-file), the call throws `cancelled` (the
/// commands may have run), and the context is dropped, so a pool closes the
/// connection (``prepareForReuse()`` answers `false`) and a direct user gets
/// a new context on the next call. The synchronous overloads, for code
/// already isolated to the connection, are not interrupted.
package actor RedisConnection: PooledConnection {
    private let executor: DispatchQueueExecutor
    /// Lets a cancellation reach the socket only while one of this connection's round trips uses it.
    private let interruptGate = InterruptGate<RedisSocket>()
    /// Runs every method on the connection's own dispatch queue.
    package nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Where this connection connects to.
    package nonisolated let configuration: RedisConnectionConfiguration
    private let logger: Logger
    private var context: (any RedisWire)?
    private var isClosed = false
    /// Set while a WATCH or MULTI may be in effect, so a returned connection is cleaned up.
    private var mayHoldTransactionState = false
    /// Set while the cluster router follows an `ASK` redirection: each command goes out after `ASKING`.
    private var sendsAsking = false

    private init(configuration: RedisConnectionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.executor = DispatchQueueExecutor(label: "scalekit.redis.connection")
    }

    /// Opens a connection, authenticates and selects the database.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `connectionFailed` (server unreachable,
    ///   `AUTH` refused), `timeout` (no answer within the connect timeout).
    package static func connect(
        configuration: RedisConnectionConfiguration, logger: Logger = .current
    ) async throws -> RedisConnection {
        let connection = RedisConnection(configuration: configuration, logger: logger)
        try await connection.open()
        return connection
    }

    private func open() throws(ScaleKitError) {
        _ = try openContext()
    }

    /// Sends one command and returns its reply.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `serverError` for an error reply (its
    ///   first word as `nativeCode`); `connectionFailed`, `timeout` or
    ///   `protocolError` for a transport failure; `cancelled` when the task
    ///   was cancelled before the command was sent.
    package func send(_ command: RedisCommand) throws(ScaleKitError) -> RedisValue {
        let reply = try pipeline([command])[0]
        if case .error(let error) = reply { throw error.scaleKitError }
        return reply
    }

    /// Sends one command given as its name and arguments; see `send(_:)`.
    @discardableResult
    package func send(_ name: String, _ arguments: RedisArgument...) throws(ScaleKitError) -> RedisValue {
        try send(RedisCommand(name, arguments))
    }

    /// Sends every command in one write and reads every reply (pipelining:
    /// one round trip). Error replies are returned in place as
    /// ``RedisValue/error(_:)``, so one failing command does not hide the
    /// others' replies.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` for a transport failure (then some of the
    ///   commands may have run) or `cancelled` before anything was sent.
    package func pipeline(_ commands: [RedisCommand]) throws(ScaleKitError) -> [RedisValue] {
        if commands.isEmpty { return [] }
        if isClosed { throw ScaleKitError(.connectionClosed, "the Redis connection to \(configuration) is closed") }
        if Task.isCancelled || interruptGate.isRequested {
            throw ScaleKitError(.cancelled, "the task was cancelled before \(commands[0].name) was sent")
        }
        let handle = try usableContext()
        // From here until clearTarget() a cancellation may shut this socket down; the handle stays alive meanwhile.
        guard interruptGate.retarget(handle.socket) else {
            throw ScaleKitError(.cancelled, "the task was cancelled before \(commands[0].name) was sent")
        }
        for command in commands {
            switch command.name {
            case "WATCH", "MULTI": mayHoldTransactionState = true
            default: break
            }
        }
        do {
            let replies = try sendsAsking ? roundTripAsking(commands, on: handle) : handle.roundTrip(commands)
            if interruptGate.clearTarget().delivered {
                // Every reply arrived, but the socket was shut down just after: never use it again.
                context = nil
                mayHoldTransactionState = false
                return replies
            }
            if let last = commands.last?.name, last == "EXEC" || last == "DISCARD" || last == "UNWATCH" {
                mayHoldTransactionState = false
            }
            return replies
        } catch {
            let cancelled = interruptGate.clearTarget().delivered
            // The context's state is unknown after a transport failure: drop it.
            context = nil
            mayHoldTransactionState = false
            logger.debug("Redis connection dropped", metadata: ["server": "\(configuration)", "error": "\(error)"])
            if cancelled {
                throw ScaleKitError(
                    .cancelled,
                    "the task was cancelled while waiting for the reply to \(commands[0].name); the connection to "
                        + "\(configuration) was closed (the command may have run)",
                    nativeCode: error.nativeCode)
            }
            throw error
        }
    }

    /// Precedes every command with `ASKING` (its flag lasts one command),
    /// except the commands queued inside `MULTI`, and returns the commands' own replies.
    private func roundTripAsking(_ commands: [RedisCommand], on handle: any RedisWire) throws(ScaleKitError) -> [RedisValue] {
        var wire: [RedisCommand] = []
        var kept: [Int] = []
        var queuing = false
        for command in commands {
            if !queuing { wire.append(RedisCommand("ASKING")) }
            kept.append(wire.count)
            wire.append(command)
            switch command.name {
            case "MULTI": queuing = true
            case "EXEC", "DISCARD": queuing = false
            default: break
            }
        }
        let replies = try handle.roundTrip(wire)
        return kept.map { replies[$0] }
    }

    /// From now on every command is preceded by `ASKING` (the cluster router follows an `ASK` redirection).
    package func beginAsking() { sendsAsking = true }

    /// Commands go out as they are again.
    package func endAsking() { sendsAsking = false }

    /// Sends one command, as the synchronous overload does, and stops
    /// waiting for its reply when the calling task is cancelled
    /// (``/ScaleKit/ScaleKitError/Code/cancelled``; the connection is then closed).
    package func send(_ command: RedisCommand) async throws(ScaleKitError) -> RedisValue {
        try await cancellable(command.name) { connection throws(ScaleKitError) in try connection.send(command) }
    }

    /// Sends one command given as its name and arguments; see `send(_:)`.
    @discardableResult
    package func send(_ name: String, _ arguments: RedisArgument...) async throws(ScaleKitError) -> RedisValue {
        let command = RedisCommand(name, arguments)
        return try await cancellable(name) { connection throws(ScaleKitError) in try connection.send(command) }
    }

    /// Pipelines `commands`, as the synchronous overload does, and stops
    /// waiting for the replies when the calling task is cancelled
    /// (``/ScaleKit/ScaleKitError/Code/cancelled``; some commands may have run).
    package func pipeline(_ commands: [RedisCommand]) async throws(ScaleKitError) -> [RedisValue] {
        try await cancellable(commands.first?.name ?? "nothing") { connection throws(ScaleKitError) in
            try connection.pipeline(commands)
        }
    }

    /// Runs a script, as the synchronous overload does, and stops waiting
    /// for its reply when the calling task is cancelled (``/ScaleKit/ScaleKitError/Code/cancelled``).
    package func evaluate(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument])
        async throws(ScaleKitError) -> RedisValue
    {
        try await cancellable("EVALSHA") { connection throws(ScaleKitError) in
            try connection.evaluate(script, keys: keys, arguments: arguments)
        }
    }

    /// Runs `body` with the task's cancellation turned into a `shutdown(2)`
    /// of the socket a round trip is waiting on.
    private func cancellable<T>(
        _ name: String, _ body: (isolated RedisConnection) throws(ScaleKitError) -> T
    ) async throws(ScaleKitError) -> T {
        if Task.isCancelled { throw ScaleKitError(.cancelled, "the task was cancelled before \(name) was sent") }
        return try await interruptGate.withInterruptOnCancel(target: nil, interrupt: { $0.shutDown() }) {
            () throws(ScaleKitError) -> T in try body(self)
        }
    }

    /// Runs a script with `EVALSHA`; on `NOSCRIPT` sends it with `EVAL`
    /// (which caches it again) and returns that reply. Atomic on the server.
    ///
    /// - Throws: as `send(_:)`; a Lua error is `serverError`.
    ///
    /// With ``RedisConnectionConfiguration/replicaAcknowledgements`` above 0
    /// the script is followed by `WAIT` in the same round trip, and the call
    /// throws `timeout` (native code `WAIT`) when fewer replicas confirmed
    /// its writes in time: the write happened on the master but could still
    /// be lost in a failover, so the caller must not treat it as done.
    package func evaluate(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) throws(ScaleKitError) -> RedisValue {
        let call = RedisScriptCall(script: script, keys: keys, arguments: arguments, configuration: configuration)
        if let reply = try call.result(of: try pipeline(call.commands(sendingSource: false))) { return reply }
        // NOSCRIPT means nothing ran, so sending the source is safe.
        guard let reply = try call.result(of: try pipeline(call.commands(sendingSource: true))) else { throw call.sourceRefused }
        return reply
    }

    /// `PING`: a cheap round trip that throws when the server cannot be reached.
    package func ping() throws(ScaleKitError) {
        let reply = try send(RedisCommand("PING"))
        guard reply == .status("PONG") else {
            throw ScaleKitError(.protocolError, "PING to \(configuration) answered \(reply)")
        }
    }

    /// Leaves no `WATCH` or `MULTI` behind (`DISCARD`, `UNWATCH`) and returns
    /// whether the connection can serve the next caller.
    package func prepareForReuse() -> Bool {
        if isClosed { return false }
        guard mayHoldTransactionState else { return context != nil }
        guard let handle = context else { return false }
        do {
            // DISCARD fails harmlessly outside MULTI; UNWATCH always succeeds.
            _ = try handle.roundTrip([RedisCommand("DISCARD"), RedisCommand("UNWATCH")])
            mayHoldTransactionState = false
            return true
        } catch {
            context = nil
            return false
        }
    }

    /// Closes the socket. Later calls throw `connectionClosed`. Never throws.
    package func close() {
        isClosed = true
        context = nil
    }

    /// The open context, replaced first when it is gone or the server has closed it.
    private func usableContext() throws(ScaleKitError) -> any RedisWire {
        if let handle = context {
            if !handle.isClosedByPeer { return handle }
            logger.info("Redis closed the connection; reconnecting", metadata: ["server": "\(configuration)"])
            context = nil
        }
        return try openContext()
    }

    /// Connects, then sends `AUTH` and `SELECT` in one round trip.
    private func openContext() throws(ScaleKitError) -> any RedisWire {
        let handle = try openAuthenticatedRedisWire(configuration)
        context = handle
        return handle
    }
}
