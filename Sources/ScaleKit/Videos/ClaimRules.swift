public import Foundation

/// The claim decision every ``VideoRepository`` makes, written once.
///
/// SQL backends express the same rules in their statements; the in-memory
/// and SQLite backends call these functions inside their critical section.
public enum ClaimRules {
    /// What a claim at `now` decides for the stored video (`nil`: none stored).
    ///
    /// `now` is the database's instant (``LeaseTimeSource``), never a worker's.
    public static func outcome(for existing: Video?, at now: Date, policy: ClaimPolicy = ClaimPolicy()) -> ClaimOutcome {
        guard let existing else { return .created }
        switch existing.state {
        case .completed: return .alreadyCompleted
        case .abandoned: return .abandoned
        case .pending: return .claimedPending
        case .failed:
            if existing.attempts >= policy.maxAttempts { return .abandoned }
            if let notBefore = existing.notBefore, notBefore > now { return .retryNotDue }
            return .retryingFailed
        case .processing:
            guard let expiry = existing.leaseExpiresAt, expiry <= now else { return .alreadyProcessing }
            return existing.attempts >= policy.maxAttempts ? .abandoned : .tookOverExpiredLease
        }
    }

    /// The video after a claim decided `outcome`: a winner's new attempt, an
    /// abandonment, or the video unchanged. For backends that decide in Swift
    /// (in-memory, SQLite); PostgreSQL writes the same in SQL.
    public static func apply(
        _ outcome: ClaimOutcome, to existing: Video?, id: String, title: String?, originalURL: String?,
        token: ClaimToken, now: Date, lease: Duration
    ) -> Video? {
        var video =
            existing
            ?? Video(
                id: id, title: title, originalURL: originalURL, state: .processing, attempts: 0,
                leaseOwner: nil, leaseExpiresAt: nil, lastError: nil, createdAt: now, updatedAt: now)
        switch outcome {
        case .created, .claimedPending, .retryingFailed, .tookOverExpiredLease:
            if outcome == .tookOverExpiredLease { recordError(VideoAttemptError.leaseExpiredMessage, in: &video, at: now) }
            video.state = .processing
            video.attempts += 1
            video.leaseOwner = token
            video.leaseExpiresAt = leaseEnd(from: now, lease: lease)
            video.notBefore = nil
            video.updatedAt = now
            return video
        case .abandoned where existing?.state != .abandoned:
            if video.state == .processing { recordError(VideoAttemptError.leaseExpiredMessage, in: &video, at: now) }
            abandon(&video, at: now)
            return video
        default:
            return existing
        }
    }

    /// The video after its holder reported `error`: failed and due after the
    /// backoff, or abandoned when this was the last allowed attempt.
    public static func failed(_ video: Video, error: String, at now: Date, policy: ClaimPolicy) -> Video {
        var video = video
        recordError(error, in: &video, at: now)
        endAttempt(&video, at: now, policy: policy)
        return video
    }

    /// The video after the rescuer found it: an expired lease becomes failed
    /// (or abandoned at the cap); a failed video already at the cap is abandoned.
    /// `nil`: nothing to do.
    public static func rescued(_ video: Video, at now: Date, policy: ClaimPolicy) -> Video? {
        var video = video
        switch video.state {
        case .processing:
            guard let expiry = video.leaseExpiresAt, expiry <= now else { return nil }
            recordError(VideoAttemptError.leaseExpiredMessage, in: &video, at: now)
            endAttempt(&video, at: now, policy: policy)
        case .failed where video.attempts >= policy.maxAttempts && (availableAt(video) ?? now) <= now:
            abandon(&video, at: now)
        default:
            return nil
        }
        return video
    }

    /// Whether ``VideoRepository/claimNext(lease:)`` may hand out this video at `now`.
    public static func isClaimable(_ video: Video, at now: Date, policy: ClaimPolicy) -> Bool {
        guard video.attempts < policy.maxAttempts, let due = availableAt(video) else { return false }
        return due <= now
    }

    /// When the video becomes claimable by ``VideoRepository/claimNext(lease:)``
    /// (the order it hands videos out in): a pending or failed video's
    /// `notBefore`, a processing video's lease end; `nil` for done videos.
    public static func availableAt(_ video: Video) -> Date? {
        switch video.state {
        case .pending, .failed: return video.notBefore ?? video.updatedAt
        case .processing: return video.leaseExpiresAt
        case .completed, .abandoned: return nil
        }
    }

    /// Appends to the bounded error history and sets `lastError`.
    static func recordError(_ message: String, in video: inout Video, at now: Date) {
        video.errors.append(VideoAttemptError(attempt: video.attempts, message: message, at: now))
        if video.errors.count > VideoAttemptError.historyLimit {
            video.errors.removeFirst(video.errors.count - VideoAttemptError.historyLimit)
        }
        video.lastError = message
    }

    private static func endAttempt(_ video: inout Video, at now: Date, policy: ClaimPolicy) {
        guard video.attempts < policy.maxAttempts else { return abandon(&video, at: now) }
        video.state = .failed
        video.leaseOwner = nil
        video.leaseExpiresAt = nil
        video.notBefore = now.addingTimeInterval(policy.backoff(afterAttempt: video.attempts).timeInterval)
        video.updatedAt = now
    }

    private static func abandon(_ video: inout Video, at now: Date) {
        video.state = .abandoned
        video.leaseOwner = nil
        video.leaseExpiresAt = nil
        video.notBefore = nil
        video.updatedAt = now
    }

    /// The error for a guarded change (renew, complete, fail) that matched
    /// no row: "no such video" or "this token does not hold its claim".
    package static func notHeld(videoExists: Bool) -> ScaleKitError {
        videoExists
            ? ScaleKitError(.notClaimHolder, "this token does not hold the video's claim")
            : ScaleKitError(.notFound, "no video with this id")
    }

    /// Checks a lease: it must be positive and at most a week.
    public static func validateLease(_ lease: Duration) throws(ScaleKitError) {
        guard lease > .zero, lease <= .seconds(7 * 86_400) else {
            throw ScaleKitError(.invalidArgument, "a claim lease must be positive and at most 7 days, got \(lease)")
        }
    }

    /// Checks the id, the stored strings and the lease of a claim request.
    public static func validateClaim(id: String, title: String?, originalURL: String?, lease: Duration) throws(ScaleKitError) {
        try Identifier.validate(id, kind: "video id")
        try validateText(title, name: "title")
        try validateText(originalURL, name: "original URL")
        try validateLease(lease)
    }

    /// Stored strings may be up to 64 KiB and hold anything but NUL bytes.
    public static func validateText(_ text: String?, name: String) throws(ScaleKitError) {
        guard let text else { return }
        if text.utf8.count > 65_536 {
            throw ScaleKitError(.invalidArgument, "\(name) is \(text.utf8.count) bytes; the maximum is 65536")
        }
        if text.utf8.contains(0) {
            throw ScaleKitError(.invalidArgument, "\(name) must not contain NUL bytes")
        }
    }

    /// The end of a lease that starts at `now`.
    public static func leaseEnd(from now: Date, lease: Duration) -> Date {
        now.addingTimeInterval(lease.timeInterval)
    }
}
