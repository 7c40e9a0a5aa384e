public import Foundation

/// Where a video is in processing.
public enum VideoState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Claimed by a worker whose lease may or may not have expired.
    case processing
    /// Done; never processed again.
    case completed
    /// The last attempt failed; the next claim retries it.
    case failed
}

/// A stored video.
public struct Video: Sendable, Hashable, Codable {
    public var id: String
    public var title: String?
    public var originalURL: String?
    public var state: VideoState
    /// How many claims have started processing it (1 after creation).
    public var attempts: Int
    /// The token of the claim's holder while processing.
    public var leaseOwner: ClaimToken?
    /// When the holder's claim may be taken over.
    public var leaseExpiresAt: Date?
    /// The message of the last failure.
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, title: String?, originalURL: String?, state: VideoState, attempts: Int,
        leaseOwner: ClaimToken?, leaseExpiresAt: Date?, lastError: String?, createdAt: Date, updatedAt: Date
    ) {
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
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// A new random token.
    public static func random() -> ClaimToken { ClaimToken(rawValue: UUID().uuidString.lowercased()) }
    public var description: String { rawValue }
}

/// What a claim decided.
public enum ClaimOutcome: String, Sendable, Hashable, Codable, CaseIterable {
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

    /// Whether the caller won the claim and should process the video.
    public var shouldProcess: Bool {
        switch self {
        case .created, .retryingFailed, .tookOverExpiredLease: return true
        case .alreadyProcessing, .alreadyCompleted: return false
        }
    }
}

/// The answer of ``VideoRepository/claimVideo(id:title:originalURL:lease:)``.
public struct VideoClaim: Sendable, Hashable {
    /// The lease a claim gets when the caller names none: 15 minutes.
    public static let defaultLease: Duration = .seconds(15 * 60)

    /// The video after the decision.
    public var video: Video
    public var outcome: ClaimOutcome
    /// The token to complete, fail or renew with; `nil` unless ``shouldProcess``.
    public var token: ClaimToken?

    public init(video: Video, outcome: ClaimOutcome, token: ClaimToken?) {
        self.video = video
        self.outcome = outcome
        self.token = token
    }

    /// Whether the caller won and should process the video.
    public var shouldProcess: Bool { outcome.shouldProcess }
}
