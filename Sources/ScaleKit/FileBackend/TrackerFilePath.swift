import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the file tracker really reads, locks and writes.
///
/// A symbolic link is resolved once, on first use, and the target is used
/// from then on: renaming a new file over the link itself would replace the
/// link with a file, and the link's and the target's users would count in
/// two files under two different locks. A dangling link is refused.
enum TrackerFilePath {
    /// `path` with every symbolic link resolved (the file itself may not exist yet).
    @available(*, noasync, message: "blocks the thread; call it from a dispatch queue")
    static func resolve(_ path: String) throws(ScaleKitError) -> String {
        var current = path
        // A link may point at a file that does not exist yet (the tracker creates it): follow it by hand.
        for _ in 0..<40 {
            var status = stat()
            guard lstat(current, &status) == 0 else { return resolveFolder(of: current) }
            if status.st_mode & S_IFMT != S_IFLNK {
                // Checked before the lock file `<path>.lock` is created beside it (never /dev/zero.lock).
                try requireRegularFile(status, current)
                return resolveFolder(of: current)
            }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length >= 0 else {
                throw ScaleKitError(
                    .ioError, "cannot read the symbolic link \(current) (API tracker file \(path)): \(errnoDescription())", nativeCode: "\(errno)")
            }
            let target = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : URL(fileURLWithPath: current).deletingLastPathComponent().appendingPathComponent(target).path
        }
        throw ScaleKitError(.ioError, "API tracker file \(path) is a loop of symbolic links", nativeCode: "\(ELOOP)")
    }

    private static func requireRegularFile(_ status: stat, _ path: String) throws(ScaleKitError) {
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw ScaleKitError(.ioError, "API tracker file \(path) is a directory (EISDIR)", nativeCode: "\(EISDIR)")
        default: throw ScaleKitError(.ioError, "API tracker file \(path) is not a regular file (a device, FIFO or socket)")
        }
    }

    /// `path` with links in its folder resolved, so every name for one file shares one lock.
    private static func resolveFolder(of path: String) -> String {
        let url = URL(fileURLWithPath: path)
        guard let folder = realpath(url.deletingLastPathComponent().path, nil) else { return path }
        defer { free(folder) }
        return URL(fileURLWithPath: String(cString: folder)).appendingPathComponent(url.lastPathComponent).path
    }

    /// The largest tracker file read (it holds a few counters; more is not ours).
    static let maximumBytes = 1 << 20

    /// The file's bytes, `nil` when it does not exist, or an `ioError` with the
    /// real reason (`EISDIR`, `EACCES`, not a regular file) instead of Foundation's generic one.
    @available(*, noasync, message: "blocks the thread; call it from a dispatch queue")
    static func contents(_ path: String) throws(ScaleKitError) -> Data? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw ScaleKitError(.ioError, "cannot open API tracker file \(path): \(errnoDescription())", nativeCode: "\(errno)")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw ScaleKitError(.ioError, "cannot stat API tracker file \(path): \(errnoDescription())", nativeCode: "\(errno)")
        }
        try requireRegularFile(status, path)  // replaced since it was resolved
        guard Int(status.st_size) <= maximumBytes else {
            throw ScaleKitError(
                .corruptData, "API tracker file \(path) is \(status.st_size) bytes, more than a tracker file's \(maximumBytes); it was left untouched")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ScaleKitError(.ioError, "cannot read API tracker file \(path): \(errnoDescription())", nativeCode: "\(errno)")
            }
            if got == 0 { break }
            count += got
        }
        guard count <= maximumBytes else {
            throw ScaleKitError(.corruptData, "API tracker file \(path) grew beyond \(maximumBytes) bytes while being read")
        }
        return Data(bytes[..<count])
    }
}
