import Foundation
import Hummingbird
import Logging
import ScaleKit
import ScaleKitServices

/// `POST /api/process {"url": "…"}`: claims the video and, when this request
/// wins, queues its job.
struct ProcessRoute: Sendable {
    let backends: ScaleKitBackends
    let runner: JobRunner
    let settings: VideoServiceSettings

    private struct Body: Decodable {
        var url: String
    }

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let url = try await Self.readURL(request)
        let videoID: YouTubeVideoID
        do {
            videoID = try YouTubeVideoID(parsing: url)
        } catch {
            throw APIError(.badRequest, code: "invalid_url", error.message)
        }
        let id = videoID.rawValue
        let claim = try await backends.videos.claimVideo(id: id, title: nil, originalURL: url, lease: settings.lease)
        guard claim.shouldProcess, let token = claim.token else {
            return try await answerLoser(claim)
        }
        let job = ProcessingJob(videoID: id, originalURL: url, token: token, attempt: claim.video.attempts)
        let status: JobStatus
        do {
            status = try await queue(job, outcome: claim.outcome)
        } catch {
            // We won the claim but cannot start: give it back at once rather
            // than leave it held until the lease expires.
            _ = try? await backends.videos.failVideo(id: id, token: token, error: "not started: \(error)")
            throw error
        }
        context.logger.info("video \(id): \(claim.outcome.apiName), job queued")
        return try JSONResponse.make(
            ProcessResponse(
                videoID: id, alreadyProcessing: false, alreadyCompleted: false, outcome: claim.outcome.apiName,
                status: status.jsonObject, statusURL: Self.statusURL(id)),
            status: .accepted)
    }

    /// Writes the first status and hands the job to the runner.
    private func queue(_ job: ProcessingJob, outcome: ClaimOutcome) async throws -> JobStatus {
        let status = JobStatus(
            state: .processing, progress: 0, message: "queued",
            fields: [
                "video_id": .string(job.videoID), "stage": "queued", "attempt": .number(Double(job.attempt)),
                "outcome": .string(outcome.apiName), "instance": .string(settings.instanceName),
            ])
        // Replace, not merge: a retried video must not keep the last attempt's
        // error. Fenced: from this write on, the previous holder's are refused.
        try await backends.statusTracker.setStatus(status, for: job.videoID, ttl: nil, fence: job.fence)
        guard runner.enqueue(job) else {
            throw APIError(.serviceUnavailable, code: "shutting_down", "the service is shutting down; retry on another instance")
        }
        return status
    }

    /// The answer for a request that did not win the claim.
    private func answerLoser(_ claim: VideoClaim) async throws -> Response {
        let id = claim.video.id
        let stored = try await backends.statusTracker.status(for: id)
        let status = stored?.jsonObject ?? StatusRoute.statusFromVideo(claim.video)
        return try JSONResponse.make(
            ProcessResponse(
                videoID: id, alreadyProcessing: claim.outcome == .alreadyProcessing,
                alreadyCompleted: claim.outcome == .alreadyCompleted, outcome: claim.outcome.apiName,
                status: status, statusURL: Self.statusURL(id)))
    }

    private static func readURL(_ request: Request) async throws -> String {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(buffer: buffer)) else {
            throw APIError(.badRequest, code: "invalid_body", #"the body must be JSON like {"url": "https://www.youtube.com/watch?v=…"}"#)
        }
        return body.url
    }

    static func statusURL(_ id: String) -> String { "/api/status/\(id)" }
}

extension Data {
    init(buffer: ByteBuffer) {
        self = buffer.withUnsafeReadableBytes { Data($0) }
    }
}
