import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A pipe that a task's cancellation handler writes one byte to, waking the
/// connection's thread from its `poll` so that thread sends the cancel
/// request (see ``PostgresResultWait``).
///
/// Both ends are non-blocking, so ``wake()`` never blocks whatever thread
/// cancels the task; the descriptors are closed in `deinit`, and the
/// ``InterruptGate`` that calls ``wake()`` holds a reference while it may.
final class PostgresWakeUpPipe: Sendable {
    /// Watched by the connection's thread.
    let readEnd: Int32
    private let writeEnd: Int32

    init() throws(ScaleKitError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw ScaleKitError(.ioError, "cannot create the pipe that carries task cancellation: errno \(errno)")
        }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        (readEnd, writeEnd) = (ends[0], ends[1])
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Makes ``readEnd`` readable. Never blocks.
    func wake() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Reads everything written so far, so the next statement starts with a quiet pipe.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 16)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }
}
