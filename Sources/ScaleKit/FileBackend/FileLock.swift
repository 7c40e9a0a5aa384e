import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `flock`-based exclusive locks and atomic file replacement. Both block.
enum FileLock {
    /// Runs `body` while holding an exclusive `flock` on `lockPath` (created if needed).
    /// The lock is released when the descriptor closes, also if the process dies.
    @available(*, noasync, message: "blocks the thread; call it from a dispatch queue")
    static func withExclusiveLock<T>(on lockPath: String, _ body: () throws(ScaleKitError) -> T) throws(ScaleKitError) -> T {
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ScaleKitError(.ioError, "cannot open lock file \(lockPath): \(errnoDescription())", nativeCode: "\(errno)")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw ScaleKitError(.ioError, "cannot lock \(lockPath): \(errnoDescription())", nativeCode: "\(errno)")
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}

/// Writes a file so that readers see either the old or the new contents.
enum AtomicFile {
    /// Writes `data` to a temporary file beside `path`, `fsync`s it, and renames it over `path`.
    @available(*, noasync, message: "blocks the thread; call it from a dispatch queue")
    static func write(_ data: Data, to path: String) throws(ScaleKitError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ScaleKitError(.ioError, "cannot create \(temporary): \(errnoDescription())", nativeCode: "\(errno)")
        }
        var failure: ScaleKitError?
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = ScaleKitError(.ioError, "cannot write \(temporary): \(errnoDescription())", nativeCode: "\(errno)")
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 {
            failure = ScaleKitError(.ioError, "cannot fsync \(temporary): \(errnoDescription())", nativeCode: "\(errno)")
        }
        close(descriptor)
        if failure == nil, rename(temporary, path) != 0 {
            failure = ScaleKitError(.ioError, "cannot rename \(temporary) to \(path): \(errnoDescription())", nativeCode: "\(errno)")
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }
}

func errnoDescription() -> String {
    String(cString: strerror(errno))
}
