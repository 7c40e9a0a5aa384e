import CHiredis
import COpenSSL
import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Redis over TLS: a TCP socket of ScaleKit's own, OpenSSL (the system's,
/// which libpq links too) for the TLS session, and hiredis for the protocol:
/// `redisFormatCommandArgv` writes each command, a `redisReader` parses the
/// replies. hiredis 0.14 has no TLS of its own, but those two halves of it
/// never touch a socket.
///
/// The server's certificate is always verified: against ``RedisConnectionConfiguration/TLS/caFile``
/// or the system's roots, and for the host name (or IP address) the client
/// connected to, or ``RedisConnectionConfiguration/TLS/serverName``, which is also sent as SNI.
/// Blocking, like hiredis's own contexts: reads and writes wait at most the
/// command timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`), connecting and the
/// handshake at most the connect timeout.
final class RedisTLSWire: RedisWire {
    private let descriptor: Int32
    private let context: OpaquePointer  // SSL_CTX
    private let session: OpaquePointer  // SSL
    private let reader: UnsafeMutablePointer<redisReader>
    private let describedAs: String
    private var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    /// Whether a reply has been read: with TLS 1.3 the server judges the
    /// client's certificate after the client's side of the handshake is done,
    /// so a refusal shows up as the first read or write failing.
    private var hasReadAReply = false
    /// Set once ``detach()`` handed the socket and the session to a ``RedisTLSStream``.
    private var isDetached = false

    init(host: String, port: Int, tls: RedisConnectionConfiguration.TLS, configuration: RedisConnectionConfiguration) throws(ScaleKitError) {
        describedAs = "\(configuration)"
        let context = try Self.makeContext(tls, describedAs: describedAs)
        self.context = context
        let descriptor: Int32
        do {
            descriptor = try TCPSocket.connect(host: host, port: port, timeout: configuration.connectTimeout, describedAs: describedAs)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        self.descriptor = descriptor
        guard let session = SSL_new(context), let reader = redisReaderCreate() else {
            Glibc.close(descriptor)
            SSL_CTX_free(context)
            throw ScaleKitError(.connectionFailed, "cannot set up TLS for \(describedAs): out of memory")
        }
        self.session = session
        self.reader = reader
        // From here deinit frees everything.
        try TCPSocket.setTimeouts(descriptor, configuration.connectTimeout)
        if configuration.tcpKeepAlive { TCPSocket.enableKeepAlive(descriptor) }
        SSL_set_fd(session, descriptor)
        let name = tls.serverName ?? host
        if TCPSocket.isIPAddress(name) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session), name)
        } else {
            _ = scalekit_ssl_set_server_name(session, name)
            SSL_set1_host(session, name)
        }
        ERR_clear_error()
        let sigpipe = SIGPIPEGuard()
        let connected = SSL_connect(session)
        sigpipe.release()
        if connected != 1 {
            throw handshakeFailure(name: name)
        }
        try TCPSocket.setTimeouts(descriptor, configuration.commandTimeout)
    }

    deinit {
        redisReaderFree(reader)
        guard !isDetached else { return }
        // No close_notify: the socket may be shut down already, and Redis does not need one.
        SSL_free(session)
        SSL_CTX_free(context)
        Glibc.close(descriptor)
    }

    /// Hands the socket, the context and the session to the caller, who
    /// closes and frees them; this wire must not be used afterwards. Call
    /// only between round trips (no reply is half read).
    func detach() -> (descriptor: Int32, context: OpaquePointer, session: OpaquePointer) {
        isDetached = true
        return (descriptor, context, session)
    }

    var socket: RedisSocket { RedisSocket(descriptor: descriptor) }

    func roundTrip(_ commands: [RedisCommand]) throws(ScaleKitError) -> [RedisValue] {
        var wire: [UInt8] = []
        for command in commands {
            var formatted: UnsafeMutablePointer<CChar>?
            let length = RedisContextHandle.withArgv(command.arguments) { argc, argv, lengths in
                redisFormatCommandArgv(&formatted, argc, argv, lengths)
            }
            guard length > 0, let formatted else { throw ScaleKitError(.connectionFailed, "cannot format \(command.name): out of memory") }
            wire.append(contentsOf: UnsafeRawBufferPointer(start: formatted, count: Int(length)))
            redisFreeCommand(formatted)
        }
        try write(wire, action: "sending \(commands.first?.name ?? "")")
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        while replies.count < commands.count {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                throw ScaleKitError(.protocolError, "the reply from \(describedAs) is not valid RESP", nativeCode: "REDIS_ERR_PROTOCOL")
            }
            if let raw {
                defer { freeReplyObject(raw) }
                replies.append(RedisContextHandle.value(of: raw.assumingMemoryBound(to: redisReply.self)))
                continue
            }
            let count = try read(action: "reading the reply to \(commands[replies.count].name)")
            let fed = buffer.withUnsafeBufferPointer { bytes in
                bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: count) { redisReaderFeed(reader, $0, count) }
            }
            guard fed == REDIS_OK else { throw ScaleKitError(.connectionFailed, "cannot buffer the reply from \(describedAs): out of memory") }
        }
        return replies
    }

    /// Whether the peer has closed: readable while no reply is outstanding
    /// means either TLS records of its own (a session ticket, handled here
    /// and not a closure) or the end of the connection.
    var isClosedByPeer: Bool {
        var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        if descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return true }
        let flags = fcntl(self.descriptor, F_GETFL)
        _ = fcntl(self.descriptor, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(self.descriptor, F_SETFL, flags) }
        var byte: UInt8 = 0
        ERR_clear_error()
        let peeked = SSL_peek(session, &byte, 1)
        if peeked > 0 { return true }  // data nobody asked for: the stream is out of step, start again
        return SSL_get_error(session, peeked) != SSL_ERROR_WANT_READ
    }

    private func write(_ bytes: [UInt8], action: String) throws(ScaleKitError) {
        let sigpipe = SIGPIPEGuard()
        defer { sigpipe.release() }
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let written = bytes.withUnsafeBytes { raw in
                SSL_write(session, raw.baseAddress! + offset, Int32(min(bytes.count - offset, Int(Int32.max))))
            }
            guard written > 0 else { throw ioFailure(written, action: action) }
            offset += Int(written)
        }
    }

    private func read(action: String) throws(ScaleKitError) -> Int {
        // OpenSSL may write while reading (an alert, a key update).
        let sigpipe = SIGPIPEGuard()
        defer { sigpipe.release() }
        ERR_clear_error()
        let count = buffer.withUnsafeMutableBytes { raw in SSL_read(session, raw.baseAddress!, Int32(raw.count)) }
        guard count > 0 else { throw ioFailure(count, action: action) }
        hasReadAReply = true
        return Int(count)
    }

    /// The one mapping from a failed `SSL_read`/`SSL_write` to a ``/ScaleKit/ScaleKitError``.
    private func ioFailure(_ result: Int32, action: String) -> ScaleKitError {
        var error = ioFailureOnAnyExchange(result, action: action)
        if !hasReadAReply && error.code == .connectionFailed {
            error = ScaleKitError(
                .connectionFailed,
                error.message + " (the server ended the TLS session before its first reply: it may require a client certificate, "
                    + "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE, or refuse the one given)",
                nativeCode: "TLS_HANDSHAKE")
        }
        return error
    }

    private func ioFailureOnAnyExchange(_ result: Int32, action: String) -> ScaleKitError {
        let savedErrno = errno
        let kind = SSL_get_error(session, result)
        switch kind {
        case SSL_ERROR_ZERO_RETURN:
            return ScaleKitError(.connectionFailed, "failed \(action): \(describedAs) closed the TLS session", nativeCode: "TLS_CLOSED")
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return ScaleKitError(.timeout, "timed out \(action) on \(describedAs)", nativeCode: "TLS_TIMEOUT")
        case SSL_ERROR_SYSCALL where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK:
            return ScaleKitError(.timeout, "timed out \(action) on \(describedAs)", nativeCode: "TLS_TIMEOUT")
        case SSL_ERROR_SYSCALL:
            let reason = savedErrno == 0 ? "the server closed the connection" : String(cString: strerror(savedErrno))
            return ScaleKitError(.connectionFailed, "failed \(action) on \(describedAs): \(reason)", nativeCode: "TLS_IO")
        default:
            // A TLS alert (a client certificate the server refused, a bad record): the session is over.
            return ScaleKitError(.connectionFailed, "failed \(action) on \(describedAs): \(Self.openSSLErrors())", nativeCode: "TLS_ALERT")
        }
    }

    /// Why the handshake failed: the certificate check's own verdict when it
    /// failed, otherwise what OpenSSL reported (a refused client certificate,
    /// a server that does not speak TLS).
    private func handshakeFailure(name: String) -> ScaleKitError {
        let verdict = SSL_get_verify_result(session)
        if verdict != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verdict))
            return ScaleKitError(
                .connectionFailed,
                "the TLS certificate of \(describedAs) does not verify for '\(name)': \(reason)", nativeCode: "TLS_CERTIFICATE")
        }
        let savedErrno = errno
        var reason = Self.openSSLErrors()
        if reason.isEmpty {
            reason = savedErrno == 0 ? "the server closed the connection (is it a TLS port?)" : String(cString: strerror(savedErrno))
        }
        return ScaleKitError(.connectionFailed, "the TLS handshake with \(describedAs) failed: \(reason)", nativeCode: "TLS_HANDSHAKE")
    }

    /// OpenSSL's queued errors, oldest first, as text (they name reasons, never secrets).
    private static func openSSLErrors() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.joined(separator: "; ")
    }

    /// A client context: TLS 1.2 or later, peer verification on, the CA
    /// file or the system's roots, and the client certificate if one is given.
    private static func makeContext(_ tls: RedisConnectionConfiguration.TLS, describedAs: String) throws(ScaleKitError) -> OpaquePointer {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw ScaleKitError(.connectionFailed, "cannot set up TLS for \(describedAs): \(openSSLErrors())")
        }
        func invalid(_ problem: String) -> ScaleKitError {
            let reasons = openSSLErrors()
            SSL_CTX_free(context)
            return ScaleKitError(.invalidConfiguration, "Redis TLS: \(problem)\(reasons.isEmpty ? "" : " (\(reasons))")")
        }
        ERR_clear_error()
        _ = scalekit_ssl_ctx_require_tls12(context)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caFile = tls.caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else { throw invalid("cannot read CA certificates from \(caFile)") }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else { throw invalid("cannot load the system's CA certificates") }
        }
        switch (tls.certificateFile, tls.keyFile) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                throw invalid("cannot read a client certificate from \(certificate)")
            }
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
                throw invalid("cannot read a private key from \(key)")
            }
            guard SSL_CTX_check_private_key(context) == 1 else { throw invalid("the key in \(key) does not match the certificate in \(certificate)") }
        default:
            throw invalid("a client certificate needs both a certificate file and a key file")
        }
        return context
    }
}
