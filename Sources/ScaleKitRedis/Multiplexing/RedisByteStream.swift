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

/// What one non-blocking write took.
enum RedisStreamWrite {
    case wrote(Int)
    case wouldBlock
    case failed(ScaleKitError)
}

/// A connected, authenticated socket in non-blocking mode, as the event loop
/// drives it: plain (TCP or Unix) or TLS. Only the loop's thread uses it.
protocol RedisByteStream: AnyObject {
    var descriptor: Int32 { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> RedisStreamRead
    func write(_ bytes: UnsafeRawBufferPointer) -> RedisStreamWrite
    /// Closes the socket (and ends the TLS session); called once.
    func close()
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
        return RedisTLSStream(descriptor: descriptor, context: context, session: session, describedAs: "\(configuration)")
    }
    // hiredis owns its socket and closes it with the context: keep a duplicate.
    let descriptor = dup(wire.socket.descriptor)
    guard descriptor >= 0 else {
        throw ScaleKitError(.connectionFailed, "cannot take over the socket to \(configuration): \(String(cString: strerror(errno)))")
    }
    _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
    return RedisPlainStream(descriptor: descriptor, describedAs: "\(configuration)")
}

private func makeNonBlocking(_ descriptor: Int32) {
    _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
}

/// A TCP or Unix socket.
final class RedisPlainStream: RedisByteStream {
    let descriptor: Int32
    private let describedAs: String

    init(descriptor: Int32, describedAs: String) {
        self.descriptor = descriptor
        self.describedAs = describedAs
        makeNonBlocking(descriptor)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> RedisStreamRead {
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .failed(ScaleKitError(.connectionFailed, "\(describedAs) closed the connection", nativeCode: "EOF")) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let code: return .failed(failure(code, "reading from"))
            }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> RedisStreamWrite {
        while true {
            // MSG_NOSIGNAL: a closed peer is an error here, never a SIGPIPE.
            let count = send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return .wrote(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let code: return .failed(failure(code, "writing to"))
            }
        }
    }

    func close() { _ = Glibc.close(descriptor) }

    private func failure(_ code: Int32, _ action: String) -> ScaleKitError {
        ScaleKitError(.connectionFailed, "failed \(action) \(describedAs): \(String(cString: strerror(code)))", nativeCode: "errno \(code)")
    }
}

/// A TLS session over a TCP socket, taken over from a ``RedisTLSWire`` after its handshake.
final class RedisTLSStream: RedisByteStream {
    let descriptor: Int32
    private let context: OpaquePointer  // SSL_CTX
    private let session: OpaquePointer  // SSL
    private let describedAs: String

    init(descriptor: Int32, context: OpaquePointer, session: OpaquePointer, describedAs: String) {
        self.descriptor = descriptor
        self.context = context
        self.session = session
        self.describedAs = describedAs
        makeNonBlocking(descriptor)
        // A write that could not finish is retried from a buffer that may have moved and grown.
        scalekit_ssl_allow_partial_writes(session)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> RedisStreamRead {
        ERR_clear_error()
        let count = SSL_read(session, buffer.baseAddress, Int32(clamping: buffer.count))
        if count > 0 { return .bytes(Int(count)) }
        return outcome(count, "reading from").map { .failed($0) } ?? .wouldBlock
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> RedisStreamWrite {
        // OpenSSL writes with write(2), which raises SIGPIPE on a closed peer.
        let sigpipe = SIGPIPEGuard()
        defer { sigpipe.release() }
        ERR_clear_error()
        let count = SSL_write(session, bytes.baseAddress, Int32(clamping: bytes.count))
        if count > 0 { return .wrote(Int(count)) }
        return outcome(count, "writing to").map { .failed($0) } ?? .wouldBlock
    }

    /// `nil` when the call only has to wait for the socket; otherwise why the session is over.
    private func outcome(_ result: Int32, _ action: String) -> ScaleKitError? {
        let savedErrno = errno
        switch SSL_get_error(session, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return nil
        case SSL_ERROR_ZERO_RETURN:
            return ScaleKitError(.connectionFailed, "\(describedAs) closed the TLS session", nativeCode: "TLS_CLOSED")
        case SSL_ERROR_SYSCALL:
            if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || savedErrno == EINTR { return nil }
            let reason = savedErrno == 0 ? "the server closed the connection" : String(cString: strerror(savedErrno))
            return ScaleKitError(.connectionFailed, "failed \(action) \(describedAs): \(reason)", nativeCode: "TLS_IO")
        default:
            return ScaleKitError(.connectionFailed, "failed \(action) \(describedAs): a TLS error ended the session", nativeCode: "TLS_ALERT")
        }
    }

    func close() {
        SSL_free(session)
        SSL_CTX_free(context)
        _ = Glibc.close(descriptor)
    }
}
