public import Logging
public import Metrics
public import ServiceLifecycle

/// Ends expired leases periodically, so a crashed worker's video does not
/// wait for someone to ask for it again (a `Service` for your ServiceGroup).
///
/// Every ``interval`` it calls ``VideoRepository/rescueExpiredLeases(limit:)``
/// in batches of ``batchSize`` until a batch comes back short: expired leases
/// become failed (claimable after the backoff) or abandoned after the last
/// attempt. Each pass that changed something is logged at info level and
/// counted in `scalekit_videos_rescued_total` (dimension `outcome`:
/// `requeued` or `abandoned`); a failed pass is logged as a warning, counted
/// in `scalekit_video_rescue_errors_total`, and retried at the next tick.
/// Any number of rescuers may run (one per worker is fine): on PostgreSQL
/// they skip each other's locked rows, on SQLite they take turns.
public struct VideoLeaseRescuer: Service {
    /// The time between passes (30 s).
    public var interval: Duration
    /// The most leases one statement ends (500).
    public var batchSize: Int
    private let repository: any VideoRepository
    private let logger: Logger
    private let requeued: Counter
    private let abandoned: Counter
    private let errors: Counter

    /// A rescuer of `repository`'s expired leases every `interval`, up to
    /// `batchSize` a statement, reporting through `logger` and `metricsFactory`.
    /// Run it in a ServiceGroup; it stops when the group shuts down.
    public init(
        repository: any VideoRepository, interval: Duration = .seconds(30), batchSize: Int = 500,
        logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.repository = repository
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.logger = logger
        requeued = Counter(label: "scalekit_videos_rescued_total", dimensions: [("outcome", "requeued")], factory: metricsFactory)
        abandoned = Counter(label: "scalekit_videos_rescued_total", dimensions: [("outcome", "abandoned")], factory: metricsFactory)
        errors = Counter(label: "scalekit_video_rescue_errors_total", factory: metricsFactory)
    }

    /// One pass: batches until one comes back short. Returns what it did in all.
    @discardableResult
    public func rescueOnce() async throws -> LeaseRescue {
        var total = LeaseRescue()
        while true {
            let batch = try await repository.rescueExpiredLeases(limit: batchSize)
            total.requeued += batch.requeued
            total.abandoned += batch.abandoned
            requeued.increment(by: batch.requeued)
            abandoned.increment(by: batch.abandoned)
            if batch.total < batchSize { break }
        }
        if total.total > 0 {
            logger.info(
                "ended expired video leases",
                metadata: ["requeued": "\(total.requeued)", "abandoned": "\(total.abandoned)"])
        }
        return total
    }

    /// Service: a pass every ``interval`` until graceful shutdown or cancellation.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        try await rescueOnce()
                    } catch is CancellationError {
                        return
                    } catch {
                        errors.increment()
                        logger.warning("could not end expired video leases", metadata: ["error": "\(error)"])
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {
            // Shutting down: a pass cut short leaves every row as it was (each batch is one transaction).
        }
    }
}
