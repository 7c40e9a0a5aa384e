#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Blocks SIGPIPE on the calling thread until ``release()``, then discards
/// one the guarded calls raised. A write to a socket the server has closed
/// raises SIGPIPE, whose default action ends the process, and neither
/// hiredis nor OpenSSL writes with `MSG_NOSIGNAL`; libpq guards its writes
/// the same way. The signal is per thread, so other threads and the
/// process's own handling of SIGPIPE are untouched.
struct SIGPIPEGuard {
    private var previous = sigset_t()
    private let wasBlocked: Bool

    init() {
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        wasBlocked = sigismember(&previous, SIGPIPE) == 1
    }

    func release() {
        guard !wasBlocked else { return }
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 {
            var only = sigset_t()
            sigemptyset(&only)
            sigaddset(&only, SIGPIPE)
            var now = timespec()
            _ = sigtimedwait(&only, nil, &now)
        }
        var restore = previous
        pthread_sigmask(SIG_SETMASK, &restore, nil)
    }
}
