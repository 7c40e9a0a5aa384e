import ScaleKit

/// One open connection to Redis as ``RedisConnection`` uses it: send
/// commands, read their replies in order. Not Sendable: only the connection
/// actor that made it touches it, on that actor's own dispatch queue, so
/// every call may block (for at most the command timeout).
///
/// Two kinds: ``RedisContextHandle`` (hiredis owns the socket; plain TCP and
/// Unix sockets) and ``RedisTLSWire`` (a TLS socket of ScaleKit's own, with
/// hiredis formatting the commands and parsing the replies).
protocol RedisWire: AnyObject {
    /// The socket, for a cancellation handler to shut down (see ``RedisSocket``).
    var socket: RedisSocket { get }

    /// Sends every command, then reads one reply per command (pipelining).
    /// Error replies come back as ``RedisValue/error(_:)``; a transport
    /// failure throws, after which the wire must not be used again.
    func roundTrip(_ commands: [RedisCommand]) throws(ScaleKitError) -> [RedisValue]

    /// Whether the server closed the connection while no reply was
    /// outstanding (restart, timeout, `CLIENT KILL`). Never blocks.
    var isClosedByPeer: Bool { get }
}

/// Opens the kind of wire `configuration` asks for.
func openRedisWire(_ configuration: RedisConnectionConfiguration) throws(ScaleKitError) -> any RedisWire {
    if let tls = configuration.tls {
        guard case .tcp(let host, let port) = configuration.endpoint else {
            throw ScaleKitError(.invalidConfiguration, "TLS needs a TCP endpoint, not a Unix socket (\(configuration))")
        }
        return try RedisTLSWire(host: host, port: port, tls: tls, configuration: configuration)
    }
    return try RedisContextHandle(configuration: configuration)
}

/// Opens a wire and sends `AUTH` and `SELECT` in one round trip, as every
/// new connection does before its first command.
///
/// - Throws: ``/ScaleKit/ScaleKitError`` `connectionFailed` (unreachable, a
///   refused `AUTH` or `SELECT`, a certificate that does not verify) or `timeout`.
func openAuthenticatedRedisWire(_ configuration: RedisConnectionConfiguration) throws(ScaleKitError) -> any RedisWire {
    let handle = try openRedisWire(configuration)
    var handshake: [RedisCommand] = []
    if let password = configuration.password {
        if let username = configuration.username {
            handshake.append(RedisCommand("AUTH", [RedisArgument(username), RedisArgument(password)]))
        } else {
            handshake.append(RedisCommand("AUTH", [RedisArgument(password)]))
        }
    }
    if configuration.database != 0 {
        handshake.append(RedisCommand("SELECT", [RedisArgument(configuration.database)]))
    }
    for (command, reply) in zip(handshake, try handle.roundTrip(handshake)) {
        if case .error(let error) = reply {
            // The reply names no secret (WRONGPASS, NOAUTH, ERR DB index…); the command's arguments are never shown.
            throw ScaleKitError(
                .connectionFailed, "Redis at \(configuration) refused \(command.name): \(error.message)",
                nativeCode: error.prefix)
        }
    }
    return handle
}
