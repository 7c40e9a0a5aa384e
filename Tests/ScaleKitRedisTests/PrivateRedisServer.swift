import Foundation
import Glibc
import ScaleKitRedis
import ScaleKitTestSupport

/// A redis-server owned by one test, for fault tests that stop, freeze or
/// restart it without disturbing the shared server other tests use.
final class PrivateRedisServer: @unchecked Sendable {
    // @unchecked: `process` is replaced only by `start()`/`restart()`, which the
    // single owning test calls sequentially; nothing else touches it.
    let port: Int
    let extraArguments: [String]
    /// The CA file clients verify the server with, when it speaks only TLS.
    let tlsCA: String?
    private var process: Process?

    static var isAvailable: Bool {
        TestServers.redisEnabled && FileManager.default.isExecutableFile(atPath: executable)
    }
    static let executable = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/redis-server"

    /// - Parameter overTLS: a TLS-only server, with the certificates the
    ///   test script made for the shared TLS servers (beside `SCALEKIT_TEST_REDIS_TLS_CA`).
    init(extraArguments: [String] = [], overTLS: Bool = false) throws {
        port = try Self.freePort()
        self.extraArguments = extraArguments
        if overTLS {
            guard let ca = ProcessInfo.processInfo.environment["SCALEKIT_TEST_REDIS_TLS_CA"] else {
                throw TestServers.Missing(description: "SCALEKIT_TEST_REDIS_TLS_CA is not set: run the tests through scripts/test.sh")
            }
            tlsCA = ca
        } else {
            tlsCA = nil
        }
        try start()
    }

    /// Starts a server, waiting for it off the cooperative pool.
    static func make(extraArguments: [String] = [], overTLS: Bool = false) async throws -> PrivateRedisServer {
        try await offThePool { try PrivateRedisServer(extraArguments: extraArguments, overTLS: overTLS) }
    }

    var url: String { "\(tlsCA == nil ? "redis" : "rediss")://127.0.0.1:\(port)/0" }

    /// A client of this server (verifying its certificate when it speaks TLS).
    func client() throws -> RedisClient {
        var configuration = try RedisConnectionConfiguration(url: url)
        configuration.tls?.caFile = tlsCA
        return RedisClient(configuration: configuration)
    }
    var pid: Int32 { process?.processIdentifier ?? 0 }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        var listening = ["--port", String(port)]
        if let tlsCA {
            let directory = (tlsCA as NSString).deletingLastPathComponent
            listening = [
                "--port", "0", "--tls-port", String(port), "--tls-cert-file", "\(directory)/server.crt",
                "--tls-key-file", "\(directory)/server.key", "--tls-ca-cert-file", tlsCA, "--tls-auth-clients", "no",
            ]
        }
        process.arguments = ["--bind", "127.0.0.1"] + listening + ["--save", "", "--appendonly", "no", "--daemonize", "no"] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitUntilAcceptingConnections()
    }

    /// SIGKILL (a crash, as far as clients can tell), and wait for the process
    /// to end, off the cooperative pool. Not SIGTERM: a child spawned from the
    /// test runner inherits a signal mask that blocks it, and SIGKILL cannot be blocked.
    func stop() async {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        let running = SendableProcess(process: process)
        _ = try? await offThePool { running.process.waitUntilExit() }
    }

    func freeze() { kill(pid, SIGSTOP) }
    func thaw() { kill(pid, SIGCONT) }

    /// Never waits here: a deinit may run on a cooperative thread. The kill is
    /// enough; Foundation reaps the child.
    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// `Process` is safe to wait on from one thread once it runs.
    private struct SendableProcess: @unchecked Sendable { let process: Process }

    private func waitUntilAcceptingConnections() throws {
        for _ in 0..<200 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return }
            usleep(25_000)
        }
        throw POSIXError(.ETIMEDOUT)
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
