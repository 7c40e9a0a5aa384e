public import Foundation

/// Where a video is in processing.
public enum VideoState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Enqueued (``VideoRepository/enqueueVideo(id:title:originalURL:)``), never attempted yet.
    case pending
    /// Claimed by a worker whose lease may or may not have expired.
    case processing
    /// Done; never processed again.
    case completed
    /// The last attempt failed; a claim from ``Video/notBefore`` on retries it.
    case failed
    /// The last allowed attempt failed or its lease expired; never processed again.
    case abandoned
}

/// One attempt that ended without completing: a failure, or a lease that expired.
public struct VideoAttemptError: Sendable, Hashable, Codable {
    /// The attempt's number (1 for the first).
    public var attempt: Int
    /// The worker's error message, or "lease expired".
    public var message: String
    /// When the attempt ended (the database's clock).
    public var at: Date

    /// A record of attempt `attempt` that ended at `at` with `message`.
    public init(attempt: Int, message: String, at: Date) {
        self.attempt = attempt
        self.message = message
        self.at = at
    }

    /// The number of errors a video keeps: the most recent ones.
    public static let historyLimit = 10

    /// The message an attempt whose lease expired is recorded with.
    public static let leaseExpiredMessage = "lease expired"
}

/// A stored video.
public struct Video: Sendable, Hashable, Codable {
    /// The caller's id for the video (for example a ``YouTubeVideoID``'s raw
    /// value); unique in the repository.
    public var id: String
    /// The title given when the video was first claimed or enqueued, if any.
    public var title: String?
    /// The source URL given when the video was first claimed or enqueued, if any.
    public var originalURL: String?
    /// Where the video is in processing; only a claim changes it.
    public var state: VideoState
    /// How many claims have started processing it (1 after creation).
    public var attempts: Int
    /// The token of the claim's holder while processing.
    public var leaseOwner: ClaimToken?
    /// When the holder's claim may be taken over.
    public var leaseExpiresAt: Date?
    /// The message of the last failure.
    public var lastError: String?
    /// When the video was first stored (the database's clock).
    public var createdAt: Date
    /// When the video last changed (the database's clock).
    public var updatedAt: Date
    /// When a pending or failed video may next be claimed (backoff); `nil` otherwise.
    public var notBefore: Date?
    /// The attempts that ended without completing, oldest first; at most
    /// ``VideoAttemptError/historyLimit`` (the most recent).
    public var errors: [VideoAttemptError]

    /// A video with these values, for backends and tests; repositories create
    /// the stored ones.
    public init(
        id: String, title: String?, originalURL: String?, state: VideoState, attempts: Int,
        leaseOwner: ClaimToken?, leaseExpiresAt: Date?, lastError: String?, createdAt: Date, updatedAt: Date,
        notBefore: Date? = nil, errors: [VideoAttemptError] = []
    ) {
        self.notBefore = notBefore
        self.errors = errors
        self.id = id
        self.title = title
        self.originalURL = originalURL
        self.state = state
        self.attempts = attempts
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The secret that proves a caller holds a video's claim.
public struct ClaimToken: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The token as stored (a lowercase UUID for ``random()``).
    public var rawValue: String
    /// The token with this stored value.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// A new random token.
    public static func random() -> ClaimToken { ClaimToken(rawValue: UUID().uuidString.lowercased()) }
    public var description: String { rawValue }
}

/// What a claim decided.
public enum ClaimOutcome: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// The video did not exist; the caller created it and processes it.
    case created
    /// The video had failed; the caller retries it.
    case retryingFailed
    /// The previous holder's lease had expired; the caller takes over.
    case tookOverExpiredLease
    /// Another caller holds a live claim; do not process.
    case alreadyProcessing
    /// The video is done; do not process.
    case alreadyCompleted
    /// The video was pending (enqueued); the caller starts its first attempt.
    case claimedPending
    /// The video failed and its backoff has not passed; do not process before ``VideoClaim/notBefore``.
    case retryNotDue
    /// The video used up its attempts (now, or earlier); it is never processed again.
    case abandoned

    /// Whether the caller won the claim and should process the video.
    public var shouldProcess: Bool {
        switch self {
        case .created, .retryingFailed, .tookOverExpiredLease, .claimedPending: return true
        case .alreadyProcessing, .alreadyCompleted, .retryNotDue, .abandoned: return false
        }
    }

    /// The outcome in words, e.g. "took over an expired lease".
    public var description: String {
        switch self {
        case .created: return "created"
        case .retryingFailed: return "retrying a failed video"
        case .tookOverExpiredLease: return "took over an expired lease"
        case .claimedPending: return "claimed a pending video"
        case .alreadyProcessing: return "already processing elsewhere"
        case .alreadyCompleted: return "already completed"
        case .retryNotDue: return "failed, not yet due for a retry"
        case .abandoned: return "abandoned after its last attempt"
        }
    }
}

/// The answer of ``VideoRepository/claimVideo(id:title:originalURL:lease:)``.
public struct VideoClaim: Sendable, Hashable {
    /// The lease a claim gets when the caller names none: 15 minutes.
    public static let defaultLease: Duration = .seconds(15 * 60)

    /// The video after the decision.
    public var video: Video
    /// What the claim decided (created, already processing, …).
    public var outcome: ClaimOutcome
    /// The token to complete, fail or renew with; `nil` unless ``shouldProcess``.
    public var token: ClaimToken?

    /// An answer; repositories create these.
    public init(video: Video, outcome: ClaimOutcome, token: ClaimToken?) {
        self.video = video
        self.outcome = outcome
        self.token = token
    }

    /// Whether the caller won and should process the video.
    public var shouldProcess: Bool { outcome.shouldProcess }

    /// For ``ClaimOutcome/retryNotDue``: the instant from which a claim retries the video.
    public var notBefore: Date? { outcome == .retryNotDue ? video.notBefore : nil }

    /// The attempt the caller starts when it won (the video's attempt count).
    public var attempt: Int { video.attempts }
}

/// What one ``VideoRepository/rescueExpiredLeases(limit:)`` pass did.
public struct LeaseRescue: Sendable, Hashable, Codable {
    /// Expired leases made claimable again (now ``VideoState/failed``, due after the backoff).
    public var requeued: Int
    /// Videos abandoned: an expired lease of the last attempt, or a failed video already at the cap.
    public var abandoned: Int

    /// A result with these counts (nothing done by default).
    public init(requeued: Int = 0, abandoned: Int = 0) {
        self.requeued = requeued
        self.abandoned = abandoned
    }

    /// Videos changed in all.
    public var total: Int { requeued + abandoned }
}
