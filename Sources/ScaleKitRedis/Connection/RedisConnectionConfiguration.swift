public import ScaleKit
import Foundation

/// Where and how to connect to Redis: endpoint, credentials, database and timeouts.
///
/// Built from a URL (``init(url:connectTimeout:commandTimeout:tcpKeepAlive:)``) in the forms the seed's `REDIS_URL`
/// uses. The password is kept for `AUTH` but never appears in
/// ``description``, in a log or in an error message.
public struct RedisConnectionConfiguration: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// A TCP host and port, or a Unix domain socket.
    public enum Endpoint: Sendable, Hashable {
        /// A host name or IP address and a port.
        case tcp(host: String, port: Int)
        /// The path of a Unix domain socket.
        case unixSocket(path: String)
    }

    /// TLS settings for `rediss://`: which certificates to trust, a client
    /// certificate for mutual TLS, and the name to ask for (SNI).
    public struct TLS: Sendable, Hashable {
        /// A PEM file of the CA certificates that may sign the server's
        /// certificate (`REDIS_TLS_CA_FILE`); `nil` trusts the system's roots.
        public var caFile: String?
        /// A PEM client certificate, or chain, for mutual TLS (`REDIS_TLS_CERT_FILE`); needs ``keyFile``.
        public var certificateFile: String?
        /// The PEM private key of ``certificateFile`` (`REDIS_TLS_KEY_FILE`).
        public var keyFile: String?
        /// The name sent as SNI and checked against the server's certificate;
        /// `nil` uses the host (an IP address is checked against the certificate's IP entries).
        public var serverName: String?

        /// TLS that verifies the server against `caFile` (the system's roots when `nil`).
        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.serverName = serverName
        }
    }

    /// The server.
    public var endpoint: Endpoint
    /// TLS for every connection (`rediss://`), or `nil` for plain text. The
    /// server's certificate is always verified; there is no way to turn that off.
    public var tls: TLS?
    /// The ACL user for `AUTH user password`; `nil` sends `AUTH password` (the `default` user).
    public var username: String?
    /// The password sent with `AUTH` on every new connection; `nil` sends no `AUTH`.
    public var password: String?
    /// The database selected with `SELECT` on every new connection (0 sends none).
    public var database: Int
    /// How long opening a connection (TCP connect, AUTH, SELECT) may take.
    public var connectTimeout: Duration
    /// How long one command (or one pipeline's reply) may take before the call throws `timeout`.
    public var commandTimeout: Duration
    /// Whether TCP keepalive probes detect a silently vanished server.
    public var tcpKeepAlive: Bool
    /// How many replicas must confirm a tracker's write (`WAIT`) before the
    /// call counts as done; 0 (the default) takes the master's word. With 1
    /// and a replica per master, a failover loses no acknowledged call: one
    /// the replicas did not confirm throws `timeout` instead (it may or may
    /// not survive, so it is never reported as done).
    public var replicaAcknowledgements: Int = 0
    /// How long a write waits for those confirmations. Default 1 s.
    public var replicaAcknowledgementTimeout: Duration = .seconds(1)

    /// The default port, 6379.
    public static let defaultPort = 6379

    /// A configuration from its parts; see ``init(url:connectTimeout:commandTimeout:tcpKeepAlive:)`` for URLs.
    public init(
        endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0,
        connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(5), tcpKeepAlive: Bool = true
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.tcpKeepAlive = tcpKeepAlive
    }

    /// Parses a Redis URL:
    ///
    /// - `redis://[[user]:password@]host[:port][/db]` (also `?db=N`); user and
    ///   password may be percent-encoded;
    /// - `unix:///path/to/redis.sock[?db=N][&password=…][&username=…]` or
    ///   `unix://[[user]:password@]/path/to/redis.sock`, as redis-py reads them.
    ///
    /// - `rediss://…`, as `redis://` over TLS: the server's certificate is
    ///   verified against the system's roots (set ``tls`` for a CA file, a
    ///   client certificate or another server name).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidConfiguration`` for anything it
    ///   cannot read; the message shows the URL with its password redacted.
    public init(
        url: String, connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(5),
        tcpKeepAlive: Bool = true
    ) throws(ScaleKitError) {
        try self.init(url: url, variable: nil, connectTimeout: connectTimeout, commandTimeout: commandTimeout, tcpKeepAlive: tcpKeepAlive)
    }

    /// Parses a Redis URL read from the environment variable `variable`
    /// (`REDIS_URL`), whose name the errors then give: the rules for Redis
    /// URLs live here, not in the core's configuration reader.
    package init(
        url: String, variable: String?, connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(5),
        tcpKeepAlive: Bool = true
    ) throws(ScaleKitError) {
        // Redacted, and with control characters escaped: a hostile value cannot forge log lines.
        let redacted = printable(redactingCredentials(in: url))
        let subject = variable.map { "\($0)=\(redacted)" } ?? "Redis URL \(redacted)"
        func invalid(_ problem: String) -> ScaleKitError {
            ScaleKitError(.invalidConfiguration, "\(subject) \(problem)")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw invalid("is not a valid URL")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name.lowercased(), $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        var username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding }
        var password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        var database = 0
        if let text = query["db"] {
            guard let value = Int(text), value >= 0 else { throw invalid("has a database number that is not a whole number ≥ 0") }
            database = value
        }
        let endpoint: Endpoint
        switch scheme {
        case "redis", "rediss":
            guard let host = components.host, !host.isEmpty else { throw invalid("names no host") }
            let port = components.port ?? Self.defaultPort
            guard (1...65_535).contains(port) else { throw invalid("has port \(port) out of range") }
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let value = Int(path), value >= 0 else { throw invalid("has a database number that is not a whole number ≥ 0") }
                database = value
            }
            // Brackets of an IPv6 literal are not part of the address hiredis resolves.
            endpoint = .tcp(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
        case "unix":
            let path = components.path
            guard path.hasPrefix("/") else { throw invalid("names no absolute socket path") }
            endpoint = .unixSocket(path: path)
            if let value = query["password"] { password = value }
            if let value = query["username"] { username = value }
        default:
            throw invalid("has scheme '\(scheme)'; expected redis://, rediss:// or unix://")
        }
        if let name = username, name.isEmpty { username = nil }
        if let secret = password, secret.isEmpty { password = nil }
        self.init(
            endpoint: endpoint, username: username, password: password, database: database,
            connectTimeout: connectTimeout, commandTimeout: commandTimeout, tcpKeepAlive: tcpKeepAlive)
        if scheme == "rediss" { tls = TLS() }
    }

    /// The endpoint and database, with the password replaced by `***`.
    public var description: String {
        let credentials: String
        switch (username, password) {
        case (nil, nil): credentials = ""
        case (let user?, nil): credentials = "\(user)@"
        case (let user, _?): credentials = "\(user ?? ""):***@"
        }
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "\(tls == nil ? "redis" : "rediss")://\(credentials)\(shownHost):\(port)/\(database)"
        case .unixSocket(let path):
            return "unix://\(credentials)\(path)?db=\(database)"
        }
    }

    /// Mirrors without the password, so `dump` and debuggers do not show it either.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": endpoint, "username": username as Any, "database": database,
                "replicaAcknowledgements": replicaAcknowledgements,
            ], displayStyle: .struct)
    }
}
