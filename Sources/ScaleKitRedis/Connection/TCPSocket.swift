import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The few socket calls the TLS wire makes itself (hiredis makes them for plain connections).
enum TCPSocket {
    /// Connects to the first address of `host` that answers within `timeout`; returns a blocking socket.
    static func connect(host: String, port: Int, timeout: Duration, describedAs: String) throws(ScaleKitError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw ScaleKitError(
                .connectionFailed, "cannot resolve \(describedAs): \(String(cString: gai_strerror(resolved)))", nativeCode: "EAI_\(resolved)")
        }
        defer { freeaddrinfo(list) }
        var lastError = ScaleKitError(.connectionFailed, "cannot connect to \(describedAs)")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.ai_protocol)
            guard descriptor >= 0 else { continue }
            do {
                try connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen, timeout: timeout, describedAs: describedAs)
                var on: Int32 = 1
                _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                return descriptor
            } catch {
                lastError = error
                close(descriptor)
            }
        }
        throw lastError
    }

    /// A non-blocking connect waited on with `poll`, so the connect timeout holds; the socket is blocking again afterwards.
    private static func connect(
        _ descriptor: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t, timeout: Duration, describedAs: String
    ) throws(ScaleKitError) {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(descriptor, address, length) != 0 {
            guard errno == EINPROGRESS else { throw failure(errno, describedAs: describedAs) }
            var waiting = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            let (seconds, attoseconds) = timeout.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
            var ready: Int32
            repeat { ready = poll(&waiting, 1, max(1, milliseconds)) } while ready < 0 && errno == EINTR
            guard ready > 0 else {
                throw ScaleKitError(.timeout, "timed out connecting to \(describedAs) after \(timeout)", nativeCode: "ETIMEDOUT")
            }
            var error: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &size)
            guard error == 0 else { throw failure(error, describedAs: describedAs) }
        }
        _ = fcntl(descriptor, F_SETFL, flags)
    }

    private static func failure(_ code: Int32, describedAs: String) -> ScaleKitError {
        ScaleKitError(.connectionFailed, "cannot connect to \(describedAs): \(String(cString: strerror(code)))", nativeCode: "errno \(code)")
    }

    /// How long a blocking read or write may wait before it fails with `EAGAIN`.
    static func setTimeouts(_ descriptor: Int32, _ duration: Duration) throws(ScaleKitError) {
        let (seconds, attoseconds) = duration.components
        var value = timeval(tv_sec: .init(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        guard setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, size) == 0,
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &value, size) == 0
        else { throw ScaleKitError(.connectionFailed, "cannot set socket timeouts: \(String(cString: strerror(errno)))") }
    }

    /// TCP keepalive, so a server that vanished without a word is noticed.
    static func enableKeepAlive(_ descriptor: Int32) {
        var on: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Whether `text` is an IPv4 or IPv6 address rather than a name.
    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
