import Metrics
import OTel
import Prometheus
import ServiceLifecycle
import Tracing

/// Metrics and traces for the executable: Prometheus text at `/metrics`
/// always; with OpenTelemetry configured, also traces and metrics exported
/// over OTLP/HTTP by swift-otel.
///
/// OpenTelemetry is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
/// one) is set; every other `OTEL_*` variable of the specification
/// (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, `OTEL_SERVICE_NAME`,
/// `OTEL_BSP_SCHEDULE_DELAY`, …) is read by swift-otel itself.
enum Observability {
    static func isConfigured(_ environment: [String: String]) -> Bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains { !(environment[$0] ?? "").isEmpty }
    }

    /// Bootstraps swift-metrics (and, when configured, the tracer) once, and
    /// returns the exporters to run as services.
    static func bootstrap(registry: PrometheusCollectorRegistry, environment: [String: String]) throws -> [any Service] {
        let prometheus = PrometheusMetricsFactory(registry: registry)
        guard isConfigured(environment) else {
            MetricsSystem.bootstrap(prometheus)
            return []
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "video-service"
        // Logs stay on standard error; only traces and metrics are exported.
        configuration.logs.enabled = false
        let tracing = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracing.factory)
        let metrics = try OTel.makeMetricsBackend(configuration: configuration)
        MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: [prometheus, metrics.factory]))
        return [tracing.service, metrics.service]
    }
}
