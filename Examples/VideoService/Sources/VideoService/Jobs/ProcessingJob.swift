public import ScaleKit

/// One accepted request to process a video: the claim it won and what the
/// pipeline needs to finish, fail or renew it.
public struct ProcessingJob: Sendable, Hashable {
    /// The YouTube video id.
    public var videoID: String
    /// The URL the client sent.
    public var originalURL: String
    /// The claim's token: only it can complete, fail or renew the claim.
    public var token: ClaimToken
    /// Which attempt at this video this is (1 for a new video).
    public var attempt: Int

    public init(videoID: String, originalURL: String, token: ClaimToken, attempt: Int) {
        self.videoID = videoID
        self.originalURL = originalURL
        self.token = token
        self.attempt = attempt
    }

    /// What every status write of this job carries, so that once another
    /// worker has taken the video over (and written its status), this job's
    /// late writes are refused instead of overwriting the new holder's.
    public var fence: StatusFence { StatusFence(attempt: attempt, token: token) }
}

/// Why a job stopped before completing; becomes the failed status's `error`
/// member and the video's last error.
struct JobFailure: Error, Sendable {
    /// A stable, machine-readable reason: `quota_exhausted`, `interrupted`, `backend_error`.
    var reason: String
    /// What a person reads in the status.
    var message: String

    static func quotaExhausted(_ decision: APICallDecision) -> JobFailure {
        let usage = decision.usage
        let detail: String
        switch decision.deniedBy {
        case .hour:
            detail = "the hourly limit of \(usage.limits.hourly) calls is reached; it resets at \(JobStatus.formatTimestamp(usage.hourResetsAt))"
        default:
            detail = "the daily limit of \(usage.limits.daily) calls is reached; it resets at \(JobStatus.formatTimestamp(usage.dayResetsAt))"
        }
        return JobFailure(reason: "quota_exhausted", message: "external API quota exhausted: \(detail)")
    }

    static let interrupted = JobFailure(
        reason: "interrupted", message: "interrupted because the service shut down; the next request for this video retries it")

    static func backendError(_ error: any Error) -> JobFailure {
        let message = (error as? ScaleKitError).map { "\($0.code): \($0.message)" } ?? "\(error)"
        return JobFailure(reason: "backend_error", message: message)
    }
}
