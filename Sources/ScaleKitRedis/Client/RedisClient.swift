public import Logging
public import ScaleKit
import Synchronization

/// A set of pooled ``RedisConnection``s to one server, shared by the trackers.
///
/// Each call leases one connection for its whole body, so a `WATCH` …
/// `MULTI` … `EXEC` sequence never interleaves with another caller's
/// commands. Safe to share between tasks and trackers.
public final class RedisClient: Sendable {
    /// The server and its timeouts.
    public let configuration: RedisConnectionConfiguration
    private let logger: Logger
    private let idle = Mutex<[RedisConnection]>([])
    private let isShutDown = Mutex(false)

    /// A client for `configuration`. Opens no connection until the first call.
    public init(configuration: RedisConnectionConfiguration, logger: Logger = Logger(label: "scalekit.redis")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A client for a `redis://` or `unix://` URL (see ``RedisConnectionConfiguration/init(url:connectTimeout:commandTimeout:tcpKeepAlive:)``).
    ///
    /// - Throws: ``ScaleKitError`` `invalidConfiguration`, or `unsupported` for `rediss://`.
    public convenience init(url: String, logger: Logger = Logger(label: "scalekit.redis")) throws(ScaleKitError) {
        self.init(configuration: try RedisConnectionConfiguration(url: url), logger: logger)
    }

    /// Leases a connection for the duration of `body`.
    ///
    /// - Throws: what `body` throws, or ``ScaleKitError`` `connectionFailed` /
    ///   `timeout` when no connection can be opened. A connection whose body
    ///   failed with a transport error is closed, not reused.
    public func withConnection<R>(_ body: (RedisConnection) async throws -> R) async throws -> R {
        if isShutDown.withLock({ $0 }) { throw ScaleKitError(.poolShutDown, "the Redis client for \(configuration) was shut down") }
        let connection: RedisConnection
        if let reused = idle.withLock({ $0.popLast() }) {
            connection = reused
        } else {
            connection = try await RedisConnection.connect(configuration: configuration, logger: logger)
        }
        do {
            let result = try await body(connection)
            await checkIn(connection)
            return result
        } catch let error as ScaleKitError where [.connectionFailed, .timeout, .protocolError].contains(error.code) {
            await connection.close()
            throw error
        } catch {
            await checkIn(connection)
            throw error
        }
    }

    private func checkIn(_ connection: RedisConnection) async {
        if await connection.prepareForReuse(), !isShutDown.withLock({ $0 }) {
            idle.withLock { $0.append(connection) }
        } else {
            await connection.close()
        }
    }

    /// Closes every idle connection; later calls throw `poolShutDown`.
    public func shutdown() async {
        isShutDown.withLock { $0 = true }
        for connection in idle.withLock({ connections in defer { connections.removeAll() }; return connections }) {
            await connection.close()
        }
    }
}
