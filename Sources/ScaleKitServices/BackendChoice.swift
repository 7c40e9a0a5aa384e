/// Which backend a factory picked for one primitive, and why; what
/// `scalekit doctor` prints. Never contains a password.
public struct BackendChoice: Sendable, Hashable, CustomStringConvertible {
    /// The primitive: "API tracking", "status tracking", "video repository".
    public var primitive: String
    /// The backend: "redis", "file", "in-memory", "postgresql", "sqlite".
    public var backend: String
    /// Whether the backend is shared by every worker (distributed mode).
    public var isDistributed: Bool
    /// Where the data lives (a redacted URL, a path).
    public var location: String
    /// Why this backend was picked.
    public var reason: String

    /// A record of one choice; the factories make these, a test may too.
    public init(primitive: String, backend: String, isDistributed: Bool, location: String, reason: String) {
        self.primitive = primitive
        self.backend = backend
        self.isDistributed = isDistributed
        self.location = location
        self.reason = reason
    }

    private var displayName: String {
        ["redis": "Redis", "postgresql": "PostgreSQL", "sqlite": "SQLite", "file": "file", "in-memory": "in-memory"][backend] ?? backend
    }

    /// The seed's log line, e.g. "Using Redis-based API tracker (distributed
    /// mode)"; an in-memory one reads "Using an in-memory status tracker".
    public var description: String {
        let kind = backend == "in-memory" ? "an in-memory" : "\(displayName)-based"
        return "Using \(kind) \(primitive) (\(isDistributed ? "distributed" : "development") mode) at \(location): \(reason)"
    }
}
