import Logging
import ScaleKit
import ScaleKitServices
import ServiceLifecycle

/// The simulated processing of one video: external API calls counted against
/// the limits, stages with progress in the shared status, and the claim
/// completed or failed at the end.
///
/// A job never leaves its claim stuck: any error fails the claim (so the next
/// request retries the video), a graceful shutdown interrupts the stages and
/// fails the claim the same way, and if even that cannot be written (the
/// database is gone, or the task was cancelled outright) the claim's lease
/// expires and the next request takes it over. While the job runs, a
/// heartbeat renews the lease every third of it, so only a job that is gone
/// or cut off from the database loses its claim.
struct VideoPipeline: Sendable {
    let backends: ScaleKitBackends
    let settings: VideoServiceSettings
    let dubbedTrack: DubbedTrack
    let stages: [PipelineStage]
    let logger: Logger
    let metrics: JobMetrics

    init(
        backends: ScaleKitBackends, settings: VideoServiceSettings, dubbedTrack: DubbedTrack,
        stages: [PipelineStage] = PipelineStage.standard, metrics: JobMetrics = JobMetrics(), logger: Logger
    ) {
        self.backends = backends
        self.settings = settings
        self.dubbedTrack = dubbedTrack
        self.stages = stages
        self.metrics = metrics
        self.logger = logger
    }

    /// Runs the job to completion or failure; never throws.
    func run(_ job: ProcessingJob) async {
        var logger = logger
        logger[metadataKey: "video_id"] = "\(job.videoID)"
        metrics.started.increment()
        metrics.running.increment()
        defer { metrics.running.decrement() }
        do {
            // Only the stages are cancelled on shutdown: this task stays
            // uncancelled, so it can still write the failure below.
            try await cancelWhenGracefulShutdown { try await self.process(job) }
            metrics.finished(.completed)
            logger.info("job completed")
        } catch let error as ScaleKitError where error.code == .notClaimHolder {
            // Our lease expired and another worker took the video over: its
            // status and result are not ours to touch.
            metrics.finished(.lostClaim)
            logger.warning("job lost its claim to another worker: \(error.message)")
        } catch let failure as JobFailure {
            metrics.finished(.failed)
            await fail(job, failure, logger: logger)
        } catch is CancellationError {
            metrics.finished(.interrupted)
            await fail(job, .interrupted, logger: logger)
        } catch let error as ScaleKitError where error.code == .cancelled {
            metrics.finished(.interrupted)
            await fail(job, .interrupted, logger: logger)
        } catch {
            metrics.finished(.failed)
            await fail(job, .backendError(error), logger: logger)
        }
    }

    private func process(_ job: ProcessingJob) async throws {
        // The stages run beside a heartbeat that renews the lease every third
        // of it, so a stage that takes longer than the lease (the mix, on a
        // busy machine) does not hand a live job's video to another worker.
        let results = try await withThrowingTaskGroup(of: [String: JSONValue]?.self) { group in
            group.addTask { try await self.keepLeaseAlive(job) }
            group.addTask { try await self.runStages(job) }
            // The stages' results, or the heartbeat's notClaimHolder (which cancels the stages).
            let first = try await group.next() ?? nil
            group.cancelAll()
            // No renewal may run beside the completion below: wait the heartbeat out.
            while (try? await group.next()) != nil {}
            guard let results = first else { throw CancellationError() }
            return results
        }
        // Complete the claim first: once the video is completed nobody else
        // writes its status, so the final status cannot be overwritten.
        let video = try await fenced(.complete) { try await backends.videos.completeVideo(id: job.videoID, token: job.token) }
        // The video is completed: nothing may fail it now. A status write that
        // fails is tried again, never followed by a failed status, for long
        // enough to outlast a Redis failover (the node timeout plus an
        // election: about 5 s in the fleet test), not just a dropped connection.
        let giveUp = ContinuousClock.now + Self.completedStatusPatience
        var pause = Duration.milliseconds(200)
        while true {
            do {
                try await fenced(.status) {
                    try await backends.statusTracker.updateStatus(
                        job.videoID, state: .completed, progress: 1, message: "done",
                        fields: results.merging(["stage": "completed", "attempts": .number(Double(video.attempts))]) { $1 },
                        fence: job.fence)
                }
                return
            } catch {
                // A refusal by the fence is final: asking again changes nothing.
                let isRefused = (error as? ScaleKitError)?.code == .notClaimHolder
                guard !isRefused, !Task.isCancelled, ContinuousClock.now + pause < giveUp else {
                    logger.error("video \(job.videoID) is completed, but its completed status could not be written: \(error)")
                    return
                }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }

    /// How long a completed video's status write is tried again.
    static let completedStatusPatience: Duration = .seconds(30)

    /// Renews the claim's lease every third of the lease until cancelled.
    /// Throws `notClaimHolder` when the claim has passed to another worker;
    /// an outage is only logged (the stages meet it too, and the next tick
    /// tries again).
    private func keepLeaseAlive(_ job: ProcessingJob) async throws -> [String: JSONValue]? {
        while true {
            try await Task.sleep(for: settings.lease / 3)
            do {
                try await fenced(.renewLease) {
                    try await backends.videos.renewLease(id: job.videoID, token: job.token, lease: settings.lease)
                }
            } catch let error as ScaleKitError where error.code == .notClaimHolder || error.code == .cancelled {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.debug("could not renew the lease; trying again in \(settings.lease / 3): \(error)")
            }
        }
    }

    /// The stages, each renewing the lease and writing its status first; returns the mix's status fields.
    private func runStages(_ job: ProcessingJob) async throws -> [String: JSONValue]? {
        var results: [String: JSONValue] = [:]
        for stage in stages {
            try Task.checkCancellation()
            try await fenced(.renewLease) {
                try await backends.videos.renewLease(id: job.videoID, token: job.token, lease: settings.lease)
            }
            try await fenced(.status) {
                try await backends.statusTracker.updateStatus(
                    job.videoID, state: .processing, progress: stage.progress, message: stage.name.replacingUnderscores,
                    fields: ["stage": .string(stage.name)], fence: job.fence)
            }
            if stage.callsExternalAPI {
                try await callExternalAPI()
            }
            if stage.mixesAudio {
                let summary = try await dubbedTrack.render(videoID: job.videoID)
                results["dubbed_audio"] = summary.file.map(JSONValue.string) ?? .null
                results["dubbed_audio_seconds"] = .number((summary.duration * 1000).rounded() / 1000)
            } else {
                try await Task.sleep(for: settings.stageDuration)
            }
        }
        return results
    }

    /// Runs one write of the job's claim or status. When the fence refuses it
    /// (`notClaimHolder`: the lease expired and another worker took the video
    /// over), counts the refusal by kind in
    /// `video_service_stale_writes_refused_total{write=…}` and rethrows.
    @discardableResult
    private func fenced<T>(_ write: JobMetrics.StaleWrite, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ScaleKitError where error.code == .notClaimHolder {
            metrics.staleWriteRefused(write)
            throw error
        }
    }

    /// Counts one call against the limits and "makes" it.
    private func callExternalAPI() async throws {
        let decision: APICallDecision
        do {
            decision = try await backends.apiTracker.checkAndCount()
        } catch {
            // Whether the tracker counted it is unknown (a timeout may hide a counted call).
            metrics.externalCallFailed()
            throw error
        }
        metrics.externalCall(allowed: decision.isAllowed)
        guard decision.isAllowed else { throw JobFailure.quotaExhausted(decision) }
        try await backends.apiTracker.recordOutcome(.success)
    }

    /// Writes the failed status, then fails the claim so a later request
    /// retries it. (Status first: once the claim is failed, a retry may
    /// start at once and its status must not be overwritten by ours.) Both
    /// writes are refused if another worker has taken the video over since.
    private func fail(_ job: ProcessingJob, _ failure: JobFailure, logger: Logger) async {
        logger.warning("job failed: \(failure.reason): \(failure.message)")
        do {
            try await fenced(.status) {
                try await backends.statusTracker.updateStatus(
                    job.videoID, state: .failed, message: failure.message,
                    fields: ["stage": "failed", "error": .string(failure.reason)], fence: job.fence)
            }
        } catch let error as ScaleKitError where error.code == .notClaimHolder {
            logger.warning("another worker holds the video now; its status stands: \(error.message)")
        } catch {
            logger.error("could not write the failed status: \(error)")
        }
        do {
            try await fenced(.fail) { try await backends.videos.failVideo(id: job.videoID, token: job.token, error: failure.message) }
        } catch let error as ScaleKitError where error.code == .notClaimHolder {
            logger.warning("the claim had passed to another worker; it stands: \(error.message)")
        } catch {
            logger.error("could not fail the claim; its lease expires in at most \(settings.lease): \(error)")
        }
    }
}

extension String {
    var replacingUnderscores: String { split(separator: "_").joined(separator: " ") }
}
