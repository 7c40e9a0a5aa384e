import Foundation

/// A ``VideoRepository`` that keeps videos in this process's memory.
///
/// A fake for unit tests: claims are atomic across the tasks of one process.
/// Never blocks.
public final class InMemoryVideoRepository: VideoRepository {
    private let clock: any WallClock
    private let videosByID = SanitizerVisibleMutex([String: Video]())

    public init(clock: any WallClock = .system) {
        self.clock = clock
    }

    public func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        try ClaimRules.validateClaim(id: id, title: title, originalURL: originalURL, lease: lease)
        let now = clock.now()
        return videosByID.withLock { videos in
            let existing = videos[id]
            let outcome = ClaimRules.outcome(for: existing, at: now)
            guard outcome.shouldProcess else { return VideoClaim(video: existing!, outcome: outcome, token: nil) }
            let token = ClaimToken.random()
            var video =
                existing
                ?? Video(
                    id: id, title: title, originalURL: originalURL, state: .processing, attempts: 0,
                    leaseOwner: nil, leaseExpiresAt: nil, lastError: nil, createdAt: now, updatedAt: now)
            video.state = .processing
            video.attempts += 1
            video.leaseOwner = token
            video.leaseExpiresAt = ClaimRules.leaseEnd(from: now, lease: lease)
            video.updatedAt = now
            videos[id] = video
            return VideoClaim(video: video, outcome: outcome, token: token)
        }
    }

    public func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video {
        try ClaimRules.validateLease(lease)
        let now = clock.now()
        return try updateHeldClaim(id: id, token: token) { video in
            video.leaseExpiresAt = ClaimRules.leaseEnd(from: now, lease: lease)
            video.updatedAt = now
        }
    }

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

    public func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video {
        try ClaimRules.validateText(error, name: "error message")
        let now = clock.now()
        return try updateHeldClaim(id: id, token: token) { video in
            video.state = .failed
            video.leaseOwner = nil
            video.leaseExpiresAt = nil
            video.lastError = error
            video.updatedAt = now
        }
    }

    public func video(id: String) async throws -> Video? {
        try Identifier.validate(id, kind: "video id")
        return videosByID.withLock { $0[id] }
    }

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
            guard var video = videos[id] else {
                throw ScaleKitError(.notFound, "no video with this id")
            }
            guard video.state == .processing, video.leaseOwner == token else {
                throw ScaleKitError(.notClaimHolder, "this token does not hold the video's claim")
            }
            change(&video)
            videos[id] = video
            return video
        }
    }
}
