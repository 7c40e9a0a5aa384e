public import Hummingbird
public import Logging
public import Metrics
public import Prometheus
public import ScaleKit
import ScaleKitAudio
public import ScaleKitServices
public import ServiceLifecycle

/// The video service: routes over ScaleKit's backends, and the job runner.
///
/// ```
/// POST /api/process      {"url": "…"}: claim the video, start its job (202) or say who has it (200)
/// GET  /api/status/{id}  the job's status object, or 404
/// GET  /api/usage        the external API's counters and limits
/// GET  /health           Redis and the database answer (200) or not (503)
/// GET  /metrics          Prometheus text
/// ```
public enum VideoServiceApp {
    /// Builds the application. Its services (run by `runService()` or a
    /// test) are the backends' pools and the job runner; on graceful
    /// shutdown the server stops first, then the runner fails any job it
    /// could not finish, then the pools close.
    ///
    /// - Parameters:
    ///   - backends: from ``ScaleKitBackends/make(_:logger:)``, or in-memory ones in tests.
    ///   - registry: what `/metrics` prints; bootstrap swift-metrics with a
    ///     `PrometheusMetricsFactory` over the same registry to include the
    ///     pools' and jobs' metrics (the executable does).
    ///   - audioMixer: mixes each job's dubbed track (`nil`: ScaleKit's FFmpeg mixer).
    ///   - observability: exporters to run for as long as the service (OpenTelemetry's);
    ///     they stop last, after the job runner and the pools, so they export everything.
    ///   - metricsFactory: where the jobs' counters go (`nil`: the bootstrapped `MetricsSystem`).
    public static func makeApplication(
        settings: VideoServiceSettings, backends: ScaleKitBackends, registry: PrometheusCollectorRegistry,
        audioMixer: (any AudioMixing)? = nil, observability: [any Service] = [], metricsFactory: (any MetricsFactory)? = nil,
        logger: Logger
    ) -> some ApplicationProtocol {
        let dubbedTrack = DubbedTrack(mixer: audioMixer ?? FFmpegAudioMixer(), directory: settings.outputDirectory)
        let pipeline = VideoPipeline(
            backends: backends, settings: settings, dubbedTrack: dubbedTrack,
            metrics: JobMetrics(factory: metricsFactory ?? MetricsSystem.factory), logger: logger)
        let runner = JobRunner(pipeline: pipeline, maxConcurrentJobs: settings.maxConcurrentJobs, logger: logger)
        let router = makeRouter(settings: settings, backends: backends, runner: runner, registry: registry)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "video-service"),
            // A ServiceGroup stops its services in reverse order.
            services: observability + backends.services + [runner],
            logger: logger)
    }

    static func makeRouter(
        settings: VideoServiceSettings, backends: ScaleKitBackends, runner: JobRunner, registry: PrometheusCollectorRegistry
    ) -> Router<BasicRequestContext> {
        let router = Router()
        // Each request is a server span (a no-op unless a tracer is bootstrapped).
        router.add(middleware: TracingMiddleware())
        router.add(middleware: JSONErrorMiddleware())
        let process = ProcessRoute(backends: backends, runner: runner, settings: settings)
        let status = StatusRoute(backends: backends)
        let usage = UsageRoute(backends: backends)
        let health = HealthRoute(backends: backends, settings: settings)
        let metrics = MetricsRoute(backends: backends, registry: registry)
        router.post("/api/process") { try await process.handle($0, context: $1) }
        router.get("/api/status/:id") { try await status.handle($0, context: $1) }
        router.get("/api/usage") { try await usage.handle($0, context: $1) }
        router.get("/health") { try await health.handle($0, context: $1) }
        router.get("/metrics") { try await metrics.handle($0, context: $1) }
        return router
    }
}
