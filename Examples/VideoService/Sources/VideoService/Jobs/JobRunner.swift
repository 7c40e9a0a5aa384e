import Logging
public import ServiceLifecycle
import Tracing

/// Runs accepted jobs in its own task group, as a ServiceLifecycle service.
///
/// Requests hand jobs over with ``enqueue(_:)``; ``run()`` starts each one
/// as a child task, at most `maxConcurrentJobs` at a time (the others wait
/// in the queue with their status `queued`), and on graceful shutdown stops
/// taking jobs, lets every queued and running job fail its claim (see
/// ``VideoPipeline``) and returns once all of them have. No job outlives
/// the service.
///
/// Each job runs in a `video.job` span whose parent is the span of the
/// request that enqueued it, so one trace follows a video from the HTTP
/// request through the job to every backend call it makes.
public final class JobRunner: Service, Sendable {
    /// A job and the trace context of the request that accepted it.
    private struct Queued: Sendable {
        var job: ProcessingJob
        var context: ServiceContext
    }

    private let jobs: AsyncStream<Queued>
    private let continuation: AsyncStream<Queued>.Continuation
    private let pipeline: VideoPipeline
    private let maxConcurrentJobs: Int
    private let logger: Logger

    init(pipeline: VideoPipeline, maxConcurrentJobs: Int, logger: Logger) {
        precondition(maxConcurrentJobs > 0, "a job runner must run at least one job at a time")
        (jobs, continuation) = AsyncStream.makeStream(of: Queued.self)
        self.pipeline = pipeline
        self.maxConcurrentJobs = maxConcurrentJobs
        self.logger = logger
    }

    /// Queues a job. Returns `false` when the runner has stopped (the service
    /// is shutting down): the caller still owns the claim and must fail it.
    public func enqueue(_ job: ProcessingJob) -> Bool {
        if case .enqueued = continuation.yield(Queued(job: job, context: ServiceContext.current ?? .topLevel)) { return true }
        return false
    }

    /// Runs jobs until graceful shutdown, then waits for the running ones to
    /// finish or fail. Never throws.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            // Finishing the stream (rather than cancelling the loop) keeps
            // every queued job: they are still started below, see the
            // shutdown at once and fail their claims.
            await withGracefulShutdownHandler {
                var running = 0
                for await queued in jobs {
                    if running == maxConcurrentJobs {
                        await group.next()
                        running -= 1
                    }
                    group.addTask {
                        await withSpan("video.job", context: queued.context, ofKind: .consumer) { span in
                            span.attributes["video_service.attempt"] = queued.job.attempt
                            await self.pipeline.run(queued.job)
                        }
                    }
                    running += 1
                }
            } onGracefulShutdown: { [continuation] in
                continuation.finish()
            }
            logger.info("job runner stopped taking jobs; waiting for running jobs")
            await group.waitForAll()
        }
        logger.info("job runner stopped")
    }
}
