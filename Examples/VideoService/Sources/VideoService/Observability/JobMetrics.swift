import Metrics

/// The job counters, reported through swift-metrics (Prometheus in the
/// service's executable, whatever the host bootstrapped elsewhere).
struct JobMetrics: Sendable {
    let started: Counter
    let running: Meter
    private let completed: Counter
    private let failed: Counter
    private let interrupted: Counter
    private let lostClaim: Counter
    private let allowedCalls: Counter
    private let deniedCalls: Counter
    private let failedCalls: Counter
    private let refused: [StaleWrite: Counter]

    /// A write of a job whose video another worker has taken over since (its
    /// lease expired), refused by the claim's fence with `notClaimHolder`.
    enum StaleWrite: String, CaseIterable, Sendable {
        /// `renewLease` at the start of a stage.
        case renewLease = "renew_lease"
        /// `completeVideo` at the end of the job.
        case complete
        /// `failVideo` after an error.
        case fail
        /// A status write (progress, completed or failed).
        case status
    }

    enum Result { case completed, failed, interrupted, lostClaim }

    init(factory: any MetricsFactory = MetricsSystem.factory) {
        started = Counter(label: "video_service_jobs_started_total", factory: factory)
        running = Meter(label: "video_service_jobs_running", factory: factory)
        func finished(_ result: String) -> Counter {
            Counter(label: "video_service_jobs_finished_total", dimensions: [("result", result)], factory: factory)
        }
        completed = finished("completed")
        failed = finished("failed")
        interrupted = finished("interrupted")
        lostClaim = finished("lost_claim")
        func calls(_ decision: String) -> Counter {
            Counter(label: "video_service_external_api_calls_total", dimensions: [("decision", decision)], factory: factory)
        }
        allowedCalls = calls("allowed")
        deniedCalls = calls("denied")
        // The tracker threw: the call may or may not have been counted.
        failedCalls = Counter(label: "video_service_external_api_call_errors_total", factory: factory)
        var refused: [StaleWrite: Counter] = [:]
        for write in StaleWrite.allCases {
            refused[write] = Counter(
                label: "video_service_stale_writes_refused_total", dimensions: [("write", write.rawValue)], factory: factory)
        }
        self.refused = refused
    }

    func finished(_ result: Result) {
        switch result {
        case .completed: completed.increment()
        case .failed: failed.increment()
        case .interrupted: interrupted.increment()
        case .lostClaim: lostClaim.increment()
        }
    }

    func staleWriteRefused(_ write: StaleWrite) {
        refused[write]?.increment()
    }

    func externalCall(allowed: Bool) {
        (allowed ? allowedCalls : deniedCalls).increment()
    }

    func externalCallFailed() {
        failedCalls.increment()
    }
}
