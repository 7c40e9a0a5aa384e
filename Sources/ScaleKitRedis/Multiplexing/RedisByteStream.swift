import COpenSSL
import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What one non-blocking read gave.
enum RedisStreamRead {
    case bytes(Int)
    case wouldBlock
    case failed(ScaleKitError)
}

/// A connected, authenticated socket in non-blocking mode, as a multiplexed
/// connection drives it: plain (TCP or Unix) or TLS.
///
/// Writing is two steps, so that whoever holds the connection's writer's
/// place (the loop's thread or a caller) can do both on its own thread:
/// ``seal(_:)`` turns formatted commands into the bytes that go on the wire
/// (nothing to do for a plain socket, TLS records for TLS), and ``send(_:)``
/// puts wire bytes on the socket. Only the writer's place holder calls
/// them, one at a time, so the bytes go out in the order they were sealed.
/// ``read(into:)`` is the loop thread's alone. The two sides may run at
/// once: a TLS stream serialises its session's use itself.
protocol RedisByteStream: AnyObject {
    var descriptor: Int32 { get }
    /// Whether ``seal(_:)`` leaves the bytes as they are (a plain socket).
    var isPlain: Bool { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> RedisStreamRead
    /// Turns `bytes` (formatted commands, possibly none) into wire bytes,
    /// led by any the session produced on its own meanwhile (a TLS record
    /// that answers one from the server). `nil`, or why the session is over.
    func seal(_ bytes: inout [UInt8]) -> ScaleKitError?
    /// Whether the session produced wire bytes of its own (while reading)
    /// that the next ``seal(_:)`` will lead with.
    var hasSealedBytesWaiting: Bool { get }
    /// Closes the socket (and ends the TLS session); called once.
    func close()
}

extension RedisByteStream {
    /// Sends wire bytes without blocking: how many the socket took, or
    /// `-1` (with `errno` set) on an error, `EAGAIN` included.
    func send(_ bytes: UnsafeRawBufferPointer) -> Int {
        while true {
            // MSG_NOSIGNAL: a closed peer is an error here, never a SIGPIPE.
            let count = Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            if count >= 0 || errno != EINTR { return count }
        }
    }
}

/// Opens a stream for `configuration`: connects and sends `AUTH` and
/// `SELECT` with the blocking wires (so the connect timeout, TLS
/// verification and the handshake's errors are exactly theirs), then takes
/// the socket over in non-blocking mode. Blocks; call it off the cooperative pool.
func openRedisByteStream(_ configuration: RedisConnectionConfiguration) throws(ScaleKitError) -> any RedisByteStream {
    let wire = try openAuthenticatedRedisWire(configuration)
    if let tls = wire as? RedisTLSWire {
        // With TLS 1.3 the server judges a client certificate only after the
        // client's side of the handshake: one reply here makes a refusal the
        // handshake error it is, with the wire's explanation, not a failure
        // of whichever call comes first.
        let pong = try tls.roundTrip([RedisCommand("PING")])[0]
        if case .error(let error) = pong, !error.message.hasPrefix("NOAUTH") { throw error.scaleKitError }
        let (descriptor, context, session) = tls.detach()
        return try RedisTLSStream(descriptor: descriptor, context: context, session: session, describedAs: "\(configuration)")
    }
    // hiredis owns its socket and closes it with the context: keep a duplicate.
    let descriptor = dup(wire.socket.descriptor)
    guard descriptor >= 0 else {
        throw ScaleKitError(.connectionFailed, "cannot take over the socket to \(configuration): \(String(cString: strerror(errno)))")
    }
    _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
    return RedisPlainStream(descriptor: descriptor, describedAs: "\(configuration)")
}

/// One non-blocking `recv` (again after `EINTR`); the end of the stream is a failure.
private func receive(from descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, describedAs: String) -> RedisStreamRead {
    while true {
        let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
        if count > 0 { return .bytes(count) }
        if count == 0 { return .failed(ScaleKitError(.connectionFailed, "\(describedAs) closed the connection", nativeCode: "EOF")) }
        switch errno {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case let code:
            return .failed(
                ScaleKitError(.connectionFailed, "failed reading from \(describedAs): \(String(cString: strerror(code)))", nativeCode: "errno \(code)"))
        }
    }
}

private func makeNonBlocking(_ descriptor: Int32) {
    _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
}

/// A TCP or Unix socket: the wire bytes are the formatted commands.
final class RedisPlainStream: RedisByteStream {
    let descriptor: Int32
    private let describedAs: String

    init(descriptor: Int32, describedAs: String) {
        self.descriptor = descriptor
        self.describedAs = describedAs
        makeNonBlocking(descriptor)
    }

    var isPlain: Bool { true }
    var hasSealedBytesWaiting: Bool { false }
    func seal(_ bytes: inout [UInt8]) -> ScaleKitError? { nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> RedisStreamRead {
        receive(from: descriptor, into: buffer, describedAs: describedAs)
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// A TLS session over a TCP socket, taken over from a ``RedisTLSWire`` after
/// its handshake, with its records kept in memory (OpenSSL memory BIOs)
/// rather than read and written by OpenSSL itself: encrypting a batch is a
/// few microseconds of work under the session's lock, done by whichever
/// thread holds the connection's writer's place, and every socket call is
/// the connection's own, outside any lock. So a caller can write its
/// command itself over TLS too (when no reply is awaited: see
/// ``RedisMultiplexedConnection``) while the loop's thread decrypts replies.
final class RedisTLSStream: RedisByteStream, @unchecked Sendable {
    // @unchecked: the session and its memory BIOs are used only under
    // `sessionLock`; `cipherBuffer` and `isSocketDrained` only by the loop's
    // thread (in `read(into:)`).
    let descriptor: Int32
    private let context: OpaquePointer  // SSL_CTX
    private let session: OpaquePointer  // SSL
    /// Records from the server, fed to the session (the session owns it).
    private let incoming: OpaquePointer  // BIO
    /// Records the session wrote, waiting to be sent (the session owns it).
    private let outgoing: OpaquePointer  // BIO
    private let sessionLock = SanitizerVisibleMutex(())
    private let describedAs: String
    private var cipherBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// The last `recv` took less than it could: the socket had no more.
    private var isSocketDrained = false

    init(descriptor: Int32, context: OpaquePointer, session: OpaquePointer, describedAs: String) throws(ScaleKitError) {
        self.descriptor = descriptor
        self.context = context
        self.session = session
        self.describedAs = describedAs
        guard let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            SSL_free(session)
            SSL_CTX_free(context)
            _ = Glibc.close(descriptor)
            throw ScaleKitError(.connectionFailed, "cannot set up TLS for \(describedAs): out of memory")
        }
        self.incoming = incoming
        self.outgoing = outgoing
        // An empty memory BIO means "wait for more", not the end of the stream.
        _ = BIO_ctrl(incoming, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        // The handshake's socket BIO was made with BIO_NOCLOSE: replacing it
        // frees it and leaves the socket open. Nothing is lost: without read
        // ahead OpenSSL reads no further than the record it is in, and the
        // handshake ended on a whole reply.
        SSL_set_bio(session, incoming, outgoing)
        makeNonBlocking(descriptor)
    }

    var isPlain: Bool { false }

    var hasSealedBytesWaiting: Bool {
        sessionLock.withLock { _ in BIO_ctrl_pending(outgoing) > 0 }
    }

    func seal(_ bytes: inout [UInt8]) -> ScaleKitError? {
        sessionLock.withLock { _ -> ScaleKitError? in
            var offset = 0
            while offset < bytes.count {
                ERR_clear_error()
                // A memory BIO takes everything: each call writes at least one whole record.
                let written = bytes.withUnsafeBytes { raw in
                    SSL_write(session, raw.baseAddress! + offset, Int32(clamping: raw.count - offset))
                }
                guard written > 0 else {
                    return failure(written, "writing to") ?? ScaleKitError(.connectionFailed, "the TLS session with \(describedAs) refused to write")
                }
                offset += Int(written)
            }
            let pending = Int(BIO_ctrl_pending(outgoing))
            bytes = [UInt8](unsafeUninitializedCapacity: pending) { buffer, count in
                count = pending == 0 ? 0 : Int(max(0, BIO_read(outgoing, buffer.baseAddress, Int32(clamping: pending))))
            }
            return nil
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> RedisStreamRead {
        while true {
            let decrypted = sessionLock.withLock { _ -> RedisStreamRead in
                ERR_clear_error()
                let count = SSL_read(session, buffer.baseAddress, Int32(clamping: buffer.count))
                if count > 0 { return .bytes(Int(count)) }
                return failure(count, "reading from").map { .failed($0) } ?? .wouldBlock
            }
            guard case .wouldBlock = decrypted else { return decrypted }
            // The session needs more records. Epoll is level-triggered: when
            // the last `recv` emptied the socket, waiting costs nothing.
            if isSocketDrained {
                isSocketDrained = false
                return .wouldBlock
            }
            let received = cipherBuffer.withUnsafeMutableBytes { receive(from: descriptor, into: $0, describedAs: describedAs) }
            guard case .bytes(let count) = received else { return received }
            isSocketDrained = count < cipherBuffer.count
            let fed = sessionLock.withLock { _ in cipherBuffer.withUnsafeBytes { BIO_write(incoming, $0.baseAddress, Int32(count)) } }
            guard fed == Int32(count) else {
                return .failed(ScaleKitError(.connectionFailed, "cannot buffer the reply from \(describedAs): out of memory"))
            }
        }
    }

    /// `nil` when the session only needs more records; otherwise why it is over. Call under `sessionLock`.
    private func failure(_ result: Int32, _ action: String) -> ScaleKitError? {
        switch SSL_get_error(session, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return nil
        case SSL_ERROR_ZERO_RETURN:
            return ScaleKitError(.connectionFailed, "\(describedAs) closed the TLS session", nativeCode: "TLS_CLOSED")
        default:
            return ScaleKitError(.connectionFailed, "failed \(action) \(describedAs): a TLS error ended the session", nativeCode: "TLS_ALERT")
        }
    }

    func close() {
        // Frees both memory BIOs too.
        SSL_free(session)
        SSL_CTX_free(context)
        _ = Glibc.close(descriptor)
    }
}
