import Foundation
public import Metrics

/// A ``VideoRepository`` that keeps videos in this process's memory.
///
/// A fake for unit tests: claims are atomic across the tasks of one process.
/// Never blocks. Its clock is the "database's" clock: there is only one.
public final class InMemoryVideoRepository: VideoRepository {
    private let clock: any WallClock
    private let policy: ClaimPolicy
    private let videosByID = SanitizerVisibleMutex([String: Video]())
    private let metrics: ClaimMetrics

    /// - Parameters:
    ///   - clock: the "database's" clock: leases, expiry and backoff.
    ///   - policy: the attempt cap and the backoff between attempts.
    ///   - metricsFactory: where the claim counter goes (Docs/Operations.md).
    public init(clock: any WallClock = .system, policy: ClaimPolicy = ClaimPolicy(), metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.clock = clock
        self.policy = policy
        self.metrics = ClaimMetrics(factory: metricsFactory)
    }

    /// Decides atomically who processes the video, with the rules every
    /// backend shares (``ClaimRules``); the winner gets a token and a lease.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a malformed id or lease.
    public func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: lease)
        let (now, policy) = (clock.now(), policy)
        let claim = videosByID.withLock { videos in
            let existing = videos[id]
            let outcome = ClaimRules.outcome(for: existing, at: now, policy: policy)
            let token = ClaimToken.random()
            let video = ClaimRules.apply(
                outcome, to: existing, id: id, title: title, originalURL: originalURL, token: token, now: now, lease: lease)!
            videos[id] = video
            return VideoClaim(video: video, outcome: outcome, token: outcome.shouldProcess ? token : nil)
        }
        metrics.record(claim)
        return claim
    }

    /// Stores a pending video for ``claimNext(lease:)`` to hand out; an
    /// existing video is returned unchanged.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a malformed id.
    @discardableResult
    public func enqueueVideo(id: String, title: String?, originalURL: String?) async throws -> Video {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: .seconds(1))
        let now = clock.now()
        return videosByID.withLock { videos in
            if let existing = videos[id] { return existing }
            let video = Video(
                id: id, title: title, originalURL: originalURL, state: .pending, attempts: 0, leaseOwner: nil,
                leaseExpiresAt: nil, lastError: nil, createdAt: now, updatedAt: now, notBefore: now)
            videos[id] = video
            return video
        }
    }

    /// Claims the next video that needs processing (pending, failed and due, or
    /// with an expired lease, below the attempt cap), earliest due first, or
    /// returns `nil` when none is due.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a malformed lease.
    public func claimNext(lease: Duration) async throws -> VideoClaim? {
        try ClaimRules.validateLease(lease)
        let (now, policy) = (clock.now(), policy)
        let claim = videosByID.withLock { videos -> VideoClaim? in
            let next = videos.values.filter { ClaimRules.isClaimable($0, at: now, policy: policy) }
                .min { (ClaimRules.availableAt($0)!, $0.id) < (ClaimRules.availableAt($1)!, $1.id) }
            guard let next else { return nil }
            let outcome = ClaimRules.outcome(for: next, at: now, policy: policy)
            let token = ClaimToken.random()
            let video = ClaimRules.apply(
                outcome, to: next, id: next.id, title: nil, originalURL: nil, token: token, now: now, lease: lease)!
            videos[next.id] = video
            return VideoClaim(video: video, outcome: outcome, token: token)
        }
        metrics.record(next: claim)
        return claim
    }

    /// Ends up to `limit` expired leases: the video becomes failed (due after
    /// the backoff) or, after the last attempt, abandoned; also abandons failed
    /// videos already at the cap.
    @discardableResult
    public func rescueExpiredLeases(limit: Int) async throws -> LeaseRescue {
        let (now, policy) = (clock.now(), policy)
        return videosByID.withLock { videos in
            var rescue = LeaseRescue()
            let candidates = videos.values.compactMap { ClaimRules.rescued($0, at: now, policy: policy) }
                .sorted { $0.id < $1.id }.prefix(max(0, limit))
            for video in candidates {
                videos[video.id] = video
                if video.state == .abandoned { rescue.abandoned += 1 } else { rescue.requeued += 1 }
            }
            return rescue
        }
    }

    /// Extends the holder's lease to `lease` from now.
    ///
    /// - Throws: ``ScaleKitError`` `notClaimHolder` when `token` no longer holds
    ///   the claim, `notFound` for an unknown video.
    @discardableResult
    public func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video {
        try ClaimRules.validateLease(lease)
        let now = clock.now()
        return try updateHeldClaim(id: id, token: token) { video in
            video.leaseExpiresAt = ClaimRules.leaseEnd(from: now, lease: lease)
            video.updatedAt = now
        }
    }

    /// Marks the video completed, for the claim's holder only.
    ///
    /// - Throws: ``ScaleKitError`` `notClaimHolder` when `token` no longer holds
    ///   the claim, `notFound` for an unknown video.
    @discardableResult
    public func completeVideo(id: String, token: ClaimToken) async throws -> Video {
        let now = clock.now()
        return try updateHeldClaim(id: id, token: token) { video in
            video.state = .completed
            video.leaseOwner = nil
            video.leaseExpiresAt = nil
            video.lastError = nil
            video.updatedAt = now
        }
    }

    /// Records the failure; the video is retried after the backoff, or
    /// abandoned after the last attempt. For the claim's holder only.
    ///
    /// - Throws: ``ScaleKitError`` `notClaimHolder` when `token` no longer holds
    ///   the claim, `notFound` for an unknown video.
    @discardableResult
    public func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video {
        try ClaimRules.validateText(error, name: "error message")
        let (now, policy) = (clock.now(), policy)
        return try updateHeldClaim(id: id, token: token) { video in
            video = ClaimRules.failed(video, error: error, at: now, policy: policy)
        }
    }

    /// The stored video, or `nil` when there is none.
    public func video(id: String) async throws -> Video? {
        try Identifier.validate(id, kind: "video id")
        return videosByID.withLock { $0[id] }
    }

    /// Up to `limit` videos, newest update first, only those in `state` unless
    /// it is `nil`.
    public func videos(state: VideoState?, limit: Int) async throws -> [Video] {
        let all = videosByID.withLock { Array($0.values) }
        return Array(
            all.filter { state == nil || $0.state == state }
                .sorted { ($0.updatedAt, $0.id) > ($1.updatedAt, $1.id) }
                .prefix(max(0, limit)))
    }

    private func updateHeldClaim(id: String, token: ClaimToken, _ change: (inout Video) -> Void) throws(ScaleKitError) -> Video {
        try Identifier.validate(id, kind: "video id")
        return try videosByID.withLock { videos throws(ScaleKitError) in
            guard var video = videos[id], video.state == .processing, video.leaseOwner == token else {
                throw ClaimRules.notHeld(videoExists: videos[id] != nil)
            }
            change(&video)
            videos[id] = video
            return video
        }
    }
}
