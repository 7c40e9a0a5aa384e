import Hummingbird
import Prometheus
import ScaleKit
import ScaleKitServices

/// `GET /metrics`: everything reported through swift-metrics (the pools'
/// gauges, the trackers' counters, this service's job counters), plus the
/// API usage read from the shared tracker at scrape time, in Prometheus'
/// text format.
struct MetricsRoute: Sendable {
    let backends: ScaleKitBackends
    let registry: PrometheusCollectorRegistry

    static var calls: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "video_service", subsystem: "api_usage", metricName: "calls", unitName: "",
            helpText: "External API calls counted in the current window, by every instance")
    }
    static var limit: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "video_service", subsystem: "api_usage", metricName: "limit", unitName: "",
            helpText: "External API calls allowed in a window")
    }

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        // A tracker that cannot be reached must not hide the other metrics.
        if let usage = try? await backends.apiTracker.usage() {
            for (window, count, limit) in [("day", usage.dayCount, usage.limits.daily), ("hour", usage.hourCount, usage.limits.hourly)] {
                registry.makeGauge(descriptor: Self.calls, labels: [("window", window)]).set(Int64(count))
                registry.makeGauge(descriptor: Self.limit, labels: [("window", window)]).set(Int64(limit))
            }
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
