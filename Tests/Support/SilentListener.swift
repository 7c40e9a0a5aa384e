import Glibc

/// A loopback TCP port that accepts connections (the kernel completes the
/// handshake from its backlog) but where nobody ever reads or answers: a
/// server that is up and hung, as far as a client can tell.
public final class SilentListener: Sendable {
    /// The port clients connect to.
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(descriptor, pointer, length) == 0, listen(descriptor, 64) == 0 else { return -1 }
                return getsockname(descriptor, pointer, &length)
            }
        }
        guard bound == 0 else {
            close(descriptor)
            throw ServersScript.Failure(description: "cannot listen on a loopback port (errno \(errno))")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }

    /// A loopback port with nothing listening on it (bound for a moment, then released).
    public static func closedPort() throws -> Int {
        let listener = try SilentListener()
        return listener.port
    }
}
