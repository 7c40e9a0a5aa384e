import Logging
import ScaleKit
import ServiceLifecycle

/// Picks one backend per primitive and remembers what it picked.
struct BackendBuilder {
    let configuration: ScaleKitConfiguration
    let logger: Logger
    private(set) var choices: [BackendChoice] = []
    private(set) var services: [any Service] = []
    private(set) var healthChecks: [HealthCheck] = []

    init(configuration: ScaleKitConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    mutating func makeAPITracker() throws -> any APITracking {
        let trackerConfiguration = APITrackerConfiguration(limits: configuration.apiLimits)
        if let redisURL = configuration.redisURL {
            throw ScaleKitError(.unsupported, "REDIS_URL=\(redactingCredentials(in: redisURL)) is set, but this build has no Redis backend")
        }
        choices.append(
            BackendChoice(
                primitive: "API tracker", backend: "file", isDistributed: false, location: configuration.apiTrackerFile,
                reason: "REDIS_URL is not set; safe across the processes of this machine only"))
        return FileAPITracker(path: configuration.apiTrackerFile, configuration: trackerConfiguration)
    }

    mutating func makeStatusTracker() throws -> any StatusTracking {
        choices.append(
            BackendChoice(
                primitive: "status tracker", backend: "in-memory", isDistributed: false, location: "this process",
                reason: "REDIS_URL is not set; statuses are visible to this process only and lost on exit"))
        return InMemoryStatusTracker()
    }

    mutating func makeVideoRepository() async throws -> any VideoRepository {
        switch configuration.database {
        case .postgres:
            throw ScaleKitError(.unsupported, "DATABASE_URL=\(configuration.database) is PostgreSQL, but this build has no PostgreSQL backend")
        case .sqlite:
            choices.append(
                BackendChoice(
                    primitive: "video repository", backend: "in-memory", isDistributed: false, location: "this process",
                    reason: "no database backend is built in"))
            return InMemoryVideoRepository()
        }
    }
}
