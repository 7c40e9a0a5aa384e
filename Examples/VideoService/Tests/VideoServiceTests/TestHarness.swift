import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ScaleKit
import ScaleKitServices
import ScaleKitTesting
import Testing

@testable import VideoService

/// The service over in-memory backends, with the backends kept at hand so
/// tests can look behind the API.
struct TestHarness {
    /// The repository's clock: tests move it to end a lease on purpose.
    let videoClock = ManualWallClock(start: Date())
    let videos: InMemoryVideoRepository
    let statuses = InMemoryStatusTracker()
    let tracker: InMemoryAPITracker
    let registry = PrometheusCollectorRegistry()
    var healthChecks: [HealthCheck] = []
    var stageDuration: Duration
    var maxConcurrentJobs: Int
    /// The jobs' lease (`VIDEO_SERVICE_LEASE_MS`); the heartbeat renews it every third of it.
    var lease: Duration = .seconds(120)
    /// Where jobs write their dubbed tracks: a new temporary folder.
    let outputDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("video-service-tests-\(UUID())").path

    init(limits: APILimits = APILimits(daily: 10_000, hourly: 10_000), stageDuration: Duration = .zero, maxConcurrentJobs: Int = 8) {
        self.stageDuration = stageDuration
        self.maxConcurrentJobs = maxConcurrentJobs
        tracker = InMemoryAPITracker(configuration: APITrackerConfiguration(limits: limits))
        videos = InMemoryVideoRepository(clock: videoClock)
    }

    var backends: ScaleKitBackends {
        ScaleKitBackends(
            apiTracker: tracker, statusTracker: statuses, videos: videos,
            choices: [
                BackendChoice(primitive: "API tracker", backend: "in-memory", isDistributed: false, location: "test", reason: "test")
            ],
            services: [], healthChecks: healthChecks)
    }

    func makeApplication() -> some ApplicationProtocol {
        var logger = Logger(label: "video-service-tests")
        logger.logLevel = .error  // the jobs' warnings are expected here
        let settings = VideoServiceSettings(
            port: 0, stageDuration: stageDuration, lease: lease, maxConcurrentJobs: maxConcurrentJobs,
            outputDirectory: outputDirectory, instanceName: "test-instance")
        return VideoServiceApp.makeApplication(
            settings: settings, backends: backends, registry: registry, metricsFactory: PrometheusMetricsFactory(registry: registry),
            logger: logger)
    }

    /// What `/metrics` would print now: the jobs' counters and the pools'.
    var metricsText: String {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// How long a wait may take before it counts as a hang: far longer than
    /// any job of these tests takes, even on a saturated machine.
    static let hangBound: Duration = .seconds(120)

    /// Waits (bounded) until the job's status is completed or failed.
    func finalStatus(of id: String) async throws -> JobStatus {
        let deadline = ContinuousClock.now + Self.hangBound
        while ContinuousClock.now < deadline {
            if let status = try await statuses.status(for: id), status.state == .completed || status.state == .failed {
                return status
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ScaleKitError(.timeout, "job \(id) did not finish")
    }

    /// Waits (bounded) until `condition` holds.
    func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + Self.hangBound
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ScaleKitError(.timeout, "\(what) did not happen")
    }

    /// Waits (bounded) until the job has reached `stage`.
    func waitForStage(_ stage: String, of id: String) async throws {
        let deadline = ContinuousClock.now + Self.hangBound
        while ContinuousClock.now < deadline {
            if let status = try await statuses.status(for: id), status.fields["stage"] == .string(stage) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ScaleKitError(.timeout, "job \(id) never reached \(stage)")
    }
}

extension TestClientProtocol {
    /// POSTs `{"url": url}` to /api/process.
    func process(_ url: String) async throws -> TestResponse {
        let body = try JSONEncoder().encode(["url": url])
        return try await execute(
            uri: "/api/process", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body))
    }
}

extension TestResponse {
    /// The body as JSON; fails the test when it is not.
    var json: JSONValue {
        get throws { try JSONValue.decode(Data(buffer: body)) }
    }

    var text: String { String(buffer: body) }
}

extension JSONValue {
    subscript(_ member: String) -> JSONValue? { objectValue?[member] }
    var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
}
