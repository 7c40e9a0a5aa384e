import CHiredis
import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns one `redisContext` and frees it in `deinit`: the wire for plain TCP
/// and Unix sockets, where hiredis owns the socket.
///
/// Not Sendable: only the ``RedisConnection`` actor that created it touches
/// it, on that actor's own dispatch queue, so every call here may block.
final class RedisContextHandle: RedisWire {
    private let context: UnsafeMutablePointer<redisContext>

    /// Opens a TCP or Unix socket connection and applies the command timeout and keepalive.
    /// Blocks for up to `configuration.connectTimeout`.
    init(configuration: RedisConnectionConfiguration) throws(ScaleKitError) {
        let connectTimeout = makeTimeval(configuration.connectTimeout)
        let opened: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port):
            opened = redisConnectWithTimeout(host, Int32(port), connectTimeout)
        case .unixSocket(let path):
            opened = redisConnectUnixWithTimeout(path, connectTimeout)
        }
        guard let opened else {
            throw ScaleKitError(.connectionFailed, "cannot connect to \(configuration): hiredis could not allocate a context")
        }
        context = opened
        if opened.pointee.err != 0 {
            throw failure(during: "connecting to \(configuration)", errno: errno)
        }
        if redisSetTimeout(opened, makeTimeval(configuration.commandTimeout)) != REDIS_OK {
            throw failure(during: "setting the command timeout on \(configuration)", errno: errno)
        }
        if configuration.tcpKeepAlive, case .tcp = configuration.endpoint, redisEnableKeepAlive(opened) != REDIS_OK {
            throw failure(during: "enabling TCP keepalive on \(configuration)", errno: errno)
        }
    }

    deinit { redisFree(context) }

    /// The socket, for a cancellation handler to shut down (see ``RedisSocket``).
    var socket: RedisSocket { RedisSocket(descriptor: context.pointee.fd) }

    /// Sends every command, then reads one reply per command (pipelining).
    /// Error replies come back as ``RedisValue/error(_:)``; a transport
    /// failure throws, after which this handle must not be used again.
    func roundTrip(_ commands: [RedisCommand]) throws(ScaleKitError) -> [RedisValue] {
        let sigpipe = SIGPIPEGuard()
        defer { sigpipe.release() }
        for command in commands {
            let status = Self.withArgv(command.arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw failure(during: "sending \(command.name)", errno: errno) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
                throw failure(during: "reading the reply to \(command.name)", errno: errno)
            }
            defer { freeReplyObject(raw) }
            replies.append(Self.value(of: raw!.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    /// Whether the socket has input or a hang-up waiting while no reply is
    /// outstanding: the server closed the connection (restart, timeout, `CLIENT KILL`)
    /// and the next command would fail, so the caller reconnects first. Never blocks.
    var isClosedByPeer: Bool {
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        return descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR | POLLNVAL) != 0
    }

    /// The one mapping from a hiredis failure to a ``/ScaleKit/ScaleKitError``.
    private func failure(during action: String, errno savedErrno: Int32) -> ScaleKitError {
        let code = context.pointee.err
        let text = String(cString: scalekit_redis_errstr(context))
        return RedisFailure.error(hiredisCode: code, errno: savedErrno, text: text, action: action)
    }

    /// A hiredis reply as a Swift value (also for the replies of the TLS wire's reader).
    static func value(of reply: UnsafePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulkString(bytes(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(RedisErrorReply(message: String(decoding: bytes(r.str, r.len), as: UTF8.self)))
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element[index] { elements.append(value(of: element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Lays the arguments out in one buffer and passes hiredis a pointer and a length for each (binary-safe).
    static func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        for argument in arguments {
            offsets.append(storage.count)
            lengths.append(argument.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)  // never empty, so the base address exists
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvLengths in
                    body(Int32(arguments.count), argv.baseAddress!, argvLengths.baseAddress!)
                }
            }
        }
    }
}

/// A context's socket as a cancelled task's handler sees it.
///
/// The handler may only call ``shutDown()``, never `close`: `shutdown(2)`
/// wakes hiredis's blocked read on the connection's thread (end-of-file) and
/// leaves the descriptor open, so it stays this context's until `redisFree`.
/// ``RedisConnection`` hands it to its ``InterruptGate`` only for the
/// duration of one round trip on a live context, so the number can never
/// belong to another file by the time it is shut down.
struct RedisSocket: Sendable, Equatable {
    let descriptor: Int32

    func shutDown() { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
}

private func makeTimeval(_ duration: Duration) -> timeval {
    let (seconds, attoseconds) = duration.components
    return timeval(tv_sec: .init(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
}

/// Maps hiredis error codes to ScaleKit error codes.
enum RedisFailure {
    static func error(hiredisCode: Int32, errno savedErrno: Int32, text: String, action: String) -> ScaleKitError {
        let native = "REDIS_ERR_\(name(of: hiredisCode))"
        let timedOut =
            hiredisCode == REDIS_ERR_IO
            && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || savedErrno == ETIMEDOUT
                || text.contains("temporarily unavailable") || text.contains("timed out"))
        let code: ScaleKitError.Code
        switch hiredisCode {
        case _ where timedOut: code = .timeout
        case REDIS_ERR_PROTOCOL: code = .protocolError
        default: code = .connectionFailed
        }
        let reason = text.isEmpty ? "unknown error" : text
        let message = timedOut ? "timed out \(action): \(reason)" : "failed \(action): \(reason)"
        return ScaleKitError(code, redactingCredentials(in: message), nativeCode: native)
    }

    private static func name(of code: Int32) -> String {
        switch code {
        case REDIS_ERR_IO: return "IO"
        case REDIS_ERR_EOF: return "EOF"
        case REDIS_ERR_PROTOCOL: return "PROTOCOL"
        case REDIS_ERR_OOM: return "OOM"
        case REDIS_ERR_OTHER: return "OTHER"
        default: return String(code)
        }
    }
}
