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

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        // A tracker that cannot be reached must not hide the other metrics.
        if let usage = try? await backends.apiTracker.usage() {
            registry.makeGauge(name: "video_service_api_usage_calls", labels: [("window", "day")]).set(Int64(usage.dayCount))
            registry.makeGauge(name: "video_service_api_usage_calls", labels: [("window", "hour")]).set(Int64(usage.hourCount))
            registry.makeGauge(name: "video_service_api_usage_limit", labels: [("window", "day")]).set(Int64(usage.limits.daily))
            registry.makeGauge(name: "video_service_api_usage_limit", labels: [("window", "hour")]).set(Int64(usage.limits.hourly))
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
