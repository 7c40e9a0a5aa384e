import Metrics

/// The job counters, reported through swift-metrics (Prometheus in the
/// service's executable, whatever the host bootstrapped elsewhere).
struct JobMetrics: Sendable {
    let started = Counter(label: "video_service_jobs_started_total")
    let running = Meter(label: "video_service_jobs_running")
    private let completed = Counter(label: "video_service_jobs_finished_total", dimensions: [("result", "completed")])
    private let failed = Counter(label: "video_service_jobs_finished_total", dimensions: [("result", "failed")])
    private let interrupted = Counter(label: "video_service_jobs_finished_total", dimensions: [("result", "interrupted")])
    private let lostClaim = Counter(label: "video_service_jobs_finished_total", dimensions: [("result", "lost_claim")])
    private let allowedCalls = Counter(label: "video_service_external_api_calls_total", dimensions: [("decision", "allowed")])
    private let deniedCalls = Counter(label: "video_service_external_api_calls_total", dimensions: [("decision", "denied")])
    /// Status writes refused because another worker had taken the video over.
    private let staleWrites = Counter(label: "video_service_stale_status_writes_refused_total")

    enum Result { case completed, failed, interrupted, lostClaim }

    func finished(_ result: Result) {
        switch result {
        case .completed: completed.increment()
        case .failed: failed.increment()
        case .interrupted: interrupted.increment()
        case .lostClaim: lostClaim.increment()
        }
    }

    func staleWriteRefused() {
        staleWrites.increment()
    }

    func externalCall(allowed: Bool) {
        (allowed ? allowedCalls : deniedCalls).increment()
    }
}
