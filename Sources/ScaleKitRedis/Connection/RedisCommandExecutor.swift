package import ScaleKit

/// Something that runs Redis commands for a caller that needs no connection
/// of its own: the multiplexed connection to a server (shared by every task),
/// or a view of it for one cluster redirection. `WATCH`/`MULTI`/`EXEC` and
/// blocking commands need a leased ``RedisConnection`` instead
/// (``RedisClient/withConnection(routingKey:isolation:_:)``).
package protocol RedisCommandExecutor: Sendable {
    /// The server and its timeouts.
    var configuration: RedisConnectionConfiguration { get }

    /// Sends the commands back to back (nothing else is sent between them on
    /// this connection) and returns one reply per command, error replies in
    /// place as ``RedisValue/error(_:)``.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` for a transport failure (some of
    ///   the commands may have run), `cancelled` when the task was cancelled.
    func pipeline(_ commands: [RedisCommand]) async throws(ScaleKitError) -> [RedisValue]
}

extension RedisCommandExecutor {
    /// Sends one command and returns its reply; an error reply is thrown as `serverError`.
    @discardableResult
    package func send(_ name: String, _ arguments: RedisArgument...) async throws(ScaleKitError) -> RedisValue {
        let reply = try await pipeline([RedisCommand(name, arguments)])[0]
        if case .error(let error) = reply { throw error.scaleKitError }
        return reply
    }

    /// Runs a script with `EVALSHA`, and with `EVAL` after `NOSCRIPT`; with
    /// ``RedisConnectionConfiguration/replicaAcknowledgements`` above 0 it is
    /// followed by `WAIT` (see ``RedisScriptCall``).
    package func evaluate(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) async throws(ScaleKitError) -> RedisValue {
        try await evaluate(RedisScriptCall(script: script, keys: keys, arguments: arguments, configuration: configuration))
    }

    /// Runs a prepared script call with its varying argument set to `value`
    /// (see ``RedisPreparedScriptCall``): the `EVALSHA` goes out as the
    /// prepared bytes with `value` written into them.
    package func evaluate(_ prepared: RedisPreparedScriptCall, varying value: String) async throws(ScaleKitError) -> RedisValue {
        let (arguments, wireBytes) = prepared.filled(with: value)
        var call = RedisScriptCall(script: prepared.script, keys: prepared.keys, arguments: arguments, configuration: configuration)
        call.wireBytes = wireBytes
        return try await evaluate(call)
    }

    private func evaluate(_ call: RedisScriptCall) async throws(ScaleKitError) -> RedisValue {
        if let reply = try call.result(of: try await pipeline(call.commands(sendingSource: false))) { return reply }
        // NOSCRIPT means nothing ran, so sending the source is safe.
        guard let reply = try call.result(of: try await pipeline(call.commands(sendingSource: true))) else { throw call.sourceRefused }
        return reply
    }
}

/// One script call as it goes on the wire: `EVALSHA` (or `EVAL` with the
/// source), then `WAIT` when writes must reach replicas before they count.
/// Shared by ``RedisConnection`` and the multiplexed connection.
struct RedisScriptCall {
    let script: RedisScript
    let keys: [RedisArgument]
    let arguments: [RedisArgument]
    let configuration: RedisConnectionConfiguration
    /// The `EVALSHA` command already in RESP, when the call was prepared.
    var wireBytes: [UInt8]?

    init(script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument], configuration: RedisConnectionConfiguration) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
        self.configuration = configuration
    }

    func commands(sendingSource: Bool) -> [RedisCommand] {
        // Built in one array each: this runs on every tracker call.
        var parts: [RedisArgument] = []
        parts.reserveCapacity(3 + keys.count + arguments.count)
        parts.append(RedisArgument(sendingSource ? "EVAL" : "EVALSHA"))
        parts.append(RedisArgument(sendingSource ? script.source : script.sha1))
        parts.append(RedisArgument(keys.count))
        parts.append(contentsOf: keys)
        parts.append(contentsOf: arguments)
        var commands = [RedisCommand(parts: parts, wireBytes: sendingSource ? nil : wireBytes)]
        if configuration.replicaAcknowledgements > 0 { commands += waitForReplicas }
        return commands
    }

    /// The script's reply, or `nil` for `NOSCRIPT` (send it again with the source).
    ///
    /// - Throws: the script's error reply as `serverError`; `timeout` (native
    ///   code `WAIT`) when fewer replicas than asked for confirmed its writes in
    ///   time: the write happened on the master but could still be lost in a
    ///   failover, so the caller must not treat it as done.
    func result(of replies: [RedisValue]) throws(ScaleKitError) -> RedisValue? {
        if case .error(let error) = replies[0] {
            if error.prefix == "NOSCRIPT" { return nil }
            throw error.scaleKitError
        }
        if replies.count == 2 { try checkReplicaAcknowledgements(replies[1]) }
        return replies[0]
    }

    /// `EVAL` with the source answered `NOSCRIPT`: no real server does.
    var sourceRefused: ScaleKitError {
        ScaleKitError(.protocolError, "\(configuration) answered NOSCRIPT to EVAL with the script's source", nativeCode: "NOSCRIPT")
    }

    /// `WAIT numreplicas timeout`, when writes must reach replicas before they count as done.
    private var waitForReplicas: [RedisCommand] {
        let wanted = configuration.replicaAcknowledgements
        guard wanted > 0 else { return [] }
        let (seconds, attoseconds) = configuration.replicaAcknowledgementTimeout.components
        let milliseconds = max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
        return [RedisCommand("WAIT", [RedisArgument(wanted), RedisArgument(milliseconds)])]
    }

    private func checkReplicaAcknowledgements(_ reply: RedisValue) throws(ScaleKitError) {
        if case .error(let error) = reply { throw error.scaleKitError }
        let confirmed = reply.integer ?? 0
        let wanted = configuration.replicaAcknowledgements
        guard confirmed >= Int64(wanted) else {
            throw ScaleKitError(
                .timeout,
                "\(confirmed) of the \(wanted) replicas asked for confirmed the write within \(configuration.replicaAcknowledgementTimeout); "
                    + "it is on the master but a failover could lose it",
                nativeCode: "WAIT")
        }
    }
}
