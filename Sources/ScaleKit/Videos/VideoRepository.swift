/// Stores videos and decides, atomically, which caller processes each one.
///
/// ``claimVideo(id:title:originalURL:lease:)`` is the heart: one atomic
/// get-or-create that also hands out the right to process. Under any
/// concurrency, across any number of processes sharing the backend, exactly
/// one caller wins a new video, exactly one wins the retry of a failed video,
/// and exactly one takes over a claim whose lease expired (its worker died).
///
/// A winner gets a ``ClaimToken``; only that token can complete, fail or
/// renew the claim. Leases, expiry, backoff and takeover follow the
/// database's clock (``LeaseTimeSource``): a worker's clock only says how
/// long a lease it asks for. Each video gets at most
/// ``ClaimPolicy/maxAttempts`` attempts, then it is ``VideoState/abandoned``.
public protocol VideoRepository: Sendable {
    /// Claims the video for processing, creating it when it does not exist.
    ///
    /// - Parameters:
    ///   - id: the video id (any string ``Identifier`` accepts).
    ///   - title: stored when the video is created; an existing title is kept.
    ///   - originalURL: stored when the video is created.
    ///   - lease: how long the claim holds before another caller may take it over.
    /// - Returns: the video after the decision, the outcome, and the token when
    ///   the caller should process.
    func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim

    /// Extends the lease of a claim the caller still holds.
    /// - Throws: ``ScaleKitError/Code/notClaimHolder`` when `token` no longer holds the claim.
    @discardableResult
    func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video

    /// Marks the video completed and releases the claim.
    /// - Throws: ``ScaleKitError/Code/notClaimHolder`` when `token` no longer holds the claim.
    @discardableResult
    func completeVideo(id: String, token: ClaimToken) async throws -> Video

    /// Marks the video failed (a claim after the policy's backoff retries it),
    /// or abandoned when this was its last allowed attempt; records `error` in
    /// the video's error history and releases the claim.
    /// - Throws: ``ScaleKitError/Code/notClaimHolder`` when `token` no longer holds the claim.
    @discardableResult
    func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video

    /// Stores a ``VideoState/pending`` video for ``claimNext(lease:)`` to hand
    /// out; a video that exists already is returned unchanged.
    @discardableResult
    func enqueueVideo(id: String, title: String?, originalURL: String?) async throws -> Video

    /// Claims the next video that needs processing — pending, failed and due,
    /// or processing with an expired lease, below the attempt cap — earliest
    /// due first. Exactly one caller gets each video, however many processes
    /// ask at once. `nil`: nothing is due.
    func claimNext(lease: Duration) async throws -> VideoClaim?

    /// Ends up to `limit` expired leases by the rules of ``ClaimPolicy``:
    /// failed and due after the backoff (claimable again), or abandoned after
    /// the last attempt; also abandons failed videos already at the cap.
    /// What ``VideoLeaseRescuer`` runs periodically.
    @discardableResult
    func rescueExpiredLeases(limit: Int) async throws -> LeaseRescue

    /// The video with this id, or `nil`.
    func video(id: String) async throws -> Video?

    /// Videos, newest update first, optionally only those in `state`.
    func videos(state: VideoState?, limit: Int) async throws -> [Video]
}

extension VideoRepository {
    /// Claims with the default lease (``VideoClaim/defaultLease``, 15 minutes).
    public func claimVideo(id: String, title: String? = nil, originalURL: String? = nil) async throws -> VideoClaim {
        try await claimVideo(id: id, title: title, originalURL: originalURL, lease: VideoClaim.defaultLease)
    }

    /// Every video (up to 1 000), newest update first, optionally only those in `state`.
    public func videos(state: VideoState? = nil) async throws -> [Video] {
        try await videos(state: state, limit: 1_000)
    }
}
