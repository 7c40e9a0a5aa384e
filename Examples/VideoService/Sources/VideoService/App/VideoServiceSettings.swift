import Foundation
public import ScaleKit

/// The service's own settings, read from the environment once at start-up.
///
/// The backends are configured by ScaleKit's variables (`REDIS_URL`,
/// `DATABASE_URL`, `RAPIDAPI_*`, `DB_POOL_*`); these are only what the HTTP
/// service itself needs.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `PORT` | the TCP port to listen on | 8080 |
/// | `VIDEO_SERVICE_HOST` | the address to listen on | 127.0.0.1 |
/// | `VIDEO_SERVICE_STAGE_MS` | how long each simulated pipeline stage takes, in milliseconds | 250 |
/// | `VIDEO_SERVICE_LEASE_MS` | how long a claim holds without renewal before another instance may take it over | 120000 |
/// | `VIDEO_SERVICE_MAX_JOBS` | jobs one instance runs at once; the others wait in its queue | 8 |
/// | `VIDEO_SERVICE_OUTPUT_DIR` | where the mixed dubbed tracks are written | `dubbed` |
/// | `VIDEO_SERVICE_INSTANCE` | this instance's name in statuses and logs | `<hostname>:<PORT>` |
public struct VideoServiceSettings: Sendable, Hashable {
    /// The address the server binds (loopback unless `VIDEO_SERVICE_HOST` says otherwise).
    public var host: String
    /// The port the server listens on.
    public var port: Int
    /// How long each simulated stage of a job takes.
    public var stageDuration: Duration
    /// How long a claim holds before another instance may take it over; the
    /// job renews it at every stage, so only a dead worker's claim expires.
    public var lease: Duration
    /// Jobs this instance runs at once; later ones wait in its queue.
    public var maxConcurrentJobs: Int
    /// The folder the dubbed tracks are written to (`<video id>.m4a`).
    public var outputDirectory: String
    /// This instance's name, written into the statuses of the jobs it runs.
    public var instanceName: String

    public init(
        host: String = "127.0.0.1", port: Int = 8080, stageDuration: Duration = .milliseconds(250),
        lease: Duration = .seconds(120), maxConcurrentJobs: Int = 8, outputDirectory: String = "dubbed", instanceName: String? = nil
    ) {
        self.host = host
        self.port = port
        self.stageDuration = stageDuration
        self.lease = lease
        self.maxConcurrentJobs = maxConcurrentJobs
        self.outputDirectory = outputDirectory
        self.instanceName = instanceName ?? "\(ProcessInfo.processInfo.hostName):\(port)"
    }

    /// Reads `PORT` and the `VIDEO_SERVICE_*` variables above.
    /// - Throws: ``ScaleKitError/Code/invalidConfiguration`` naming the
    ///   variable when a value is malformed (never a silent default).
    public init(environment: [String: String]) throws(ScaleKitError) {
        let host = environment["VIDEO_SERVICE_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || ".:-".contains($0) }) else {
            let printable = host.unicodeScalars.map { $0.escaped(asASCII: true) }.joined()
            throw ScaleKitError(.invalidConfiguration, "VIDEO_SERVICE_HOST=\(printable) is not an address or host name")
        }
        let port = try Self.integer("PORT", in: environment, default: 8080, range: 1...65_535)
        let stage = try Self.integer("VIDEO_SERVICE_STAGE_MS", in: environment, default: 250, range: 0...600_000)
        // At least a second: a lease shorter than one round trip to the database would expire while it is renewed.
        let lease = try Self.integer("VIDEO_SERVICE_LEASE_MS", in: environment, default: 120_000, range: 1_000...86_400_000)
        let jobs = try Self.integer("VIDEO_SERVICE_MAX_JOBS", in: environment, default: 8, range: 1...10_000)
        let output = environment["VIDEO_SERVICE_OUTPUT_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "dubbed"
        let name = environment["VIDEO_SERVICE_INSTANCE"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            host: host, port: port, stageDuration: .milliseconds(stage), lease: .milliseconds(lease), maxConcurrentJobs: jobs,
            outputDirectory: output, instanceName: name)
    }

    private static func integer(
        _ name: String, in environment: [String: String], default value: Int, range: ClosedRange<Int>
    ) throws(ScaleKitError) -> Int {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let parsed = Int(text), range.contains(parsed) else {
            throw ScaleKitError(
                .invalidConfiguration, "\(name)=\(text) is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return parsed
    }
}
