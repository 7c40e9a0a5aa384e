/// Stores a JSON status per job, with a time to live, shared by every worker
/// that uses the same backend.
///
/// A status is a JSON object (see ``JobStatus`` for its well-known members).
/// Writes refresh the TTL; after it passes without a write the status is gone
/// and ``status(for:)`` returns `nil`, which is distinct from every state.
///
/// Writes may carry a ``StatusFence`` (the claim they are made under, from
/// ``VideoClaim/fence``): a fenced write from a worker whose claim a later
/// attempt has taken over, and written under, is refused with
/// ``ScaleKitError/Code/notClaimHolder`` and stores nothing. Unfenced writes
/// are never refused.
public protocol StatusTracking: Sendable {
    /// Replaces the job's status and sets its TTL (`nil`: the tracker's default, 24 h).
    /// `updatedAt` is set to the tracker's clock.
    func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?) async throws

    /// Atomically applies an RFC 7396 merge patch to the job's status (an
    /// absent status is treated as `{}`), sets `updated_at`, refreshes the
    /// TTL, and returns the merged status.
    ///
    /// Atomic across every process sharing the backend: concurrent merges of
    /// different members never lose one another's members.
    ///
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` when the patch is not
    ///   an object, is deeper or larger than the limits, or sets a well-known
    ///   member to a value of the wrong type; nothing is stored then.
    @discardableResult
    func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?) async throws -> JobStatus

    /// ``setStatus(_:for:ttl:)`` under a claim: refused, atomically with the
    /// write, when `fence` no longer holds the claim (``StatusFence``). With
    /// `fence == nil` it is exactly ``setStatus(_:for:ttl:)``, which replaces the
    /// stored fence too (the next fenced write of any attempt is admitted).
    /// - Throws: ``ScaleKitError/Code/notClaimHolder`` when refused.
    func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws

    /// ``mergeStatus(_:for:ttl:)`` under a claim: refused, atomically with the
    /// merge, when `fence` no longer holds the claim (``StatusFence``). With
    /// `fence == nil` it is exactly ``mergeStatus(_:for:ttl:)``, which keeps the
    /// stored fence (a patch cannot change it).
    /// - Throws: ``ScaleKitError/Code/notClaimHolder`` when refused.
    @discardableResult
    func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws -> JobStatus

    /// The job's status, or `nil` when there is none (never set, deleted, or expired).
    func status(for jobID: String) async throws -> JobStatus?

    /// Removes the job's status. Returns whether there was one.
    @discardableResult
    func deleteStatus(for jobID: String) async throws -> Bool
}

extension StatusTracking {
    /// For trackers written before fencing: unfenced writes pass through; a
    /// fenced one throws ``ScaleKitError/Code/unsupported`` rather than write
    /// without the check the caller asked for.
    public func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws {
        guard fence == nil else { throw ScaleKitError(.unsupported, "\(type(of: self)) does not support fenced status writes") }
        try await setStatus(status, for: jobID, ttl: ttl)
    }

    /// For trackers written before fencing: see ``setStatus(_:for:ttl:fence:)``.
    @discardableResult
    public func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws -> JobStatus {
        guard fence == nil else { throw ScaleKitError(.unsupported, "\(type(of: self)) does not support fenced status writes") }
        return try await mergeStatus(patch, for: jobID, ttl: ttl)
    }

    /// Replaces the job's status under a claim, with the tracker's default TTL.
    public func setStatus(_ status: JobStatus, for jobID: String, fence: StatusFence?) async throws {
        try await setStatus(status, for: jobID, ttl: nil, fence: fence)
    }

    /// Merges a patch under a claim, with the tracker's default TTL.
    @discardableResult
    public func mergeStatus(_ patch: JSONValue, for jobID: String, fence: StatusFence?) async throws -> JobStatus {
        try await mergeStatus(patch, for: jobID, ttl: nil, fence: fence)
    }

    /// Replaces the job's status with the tracker's default TTL.
    public func setStatus(_ status: JobStatus, for jobID: String) async throws {
        try await setStatus(status, for: jobID, ttl: nil)
    }

    /// Merges a patch with the tracker's default TTL.
    @discardableResult
    public func mergeStatus(_ patch: JSONValue, for jobID: String) async throws -> JobStatus {
        try await mergeStatus(patch, for: jobID, ttl: nil)
    }

    /// Merges the given well-known members (those that are non-nil) and free-form
    /// fields; under `fence`, when given (see ``mergeStatus(_:for:ttl:fence:)``).
    @discardableResult
    public func updateStatus(
        _ jobID: String, state: JobState? = nil, progress: Double? = nil, message: String? = nil,
        fields: [String: JSONValue] = [:], ttl: Duration? = nil, fence: StatusFence? = nil
    ) async throws -> JobStatus {
        var patch = fields
        if let state { patch[JobStatus.Member.state] = .string(state.rawValue) }
        if let progress { patch[JobStatus.Member.progress] = .number(progress) }
        if let message { patch[JobStatus.Member.message] = .string(message) }
        return try await mergeStatus(.object(patch), for: jobID, ttl: ttl, fence: fence)
    }
}

/// Settings shared by every status tracker backend.
public struct StatusTrackerConfiguration: Sendable, Hashable {
    /// The TTL of a status when a call passes none (24 hours, as in the seed).
    public var defaultTTL: Duration
    /// The prefix of every key (`processing_status`, as in the seed).
    public var keyPrefix: String
    /// Limits on the size and depth of statuses and patches.
    public var limits: JSONValue.Limits

    /// Settings with the seed's defaults: a 24-hour TTL, the
    /// `processing_status` prefix and ``JSONValue/Limits/default``.
    public init(
        defaultTTL: Duration = .seconds(86_400), keyPrefix: String = "processing_status",
        limits: JSONValue.Limits = .default
    ) {
        self.defaultTTL = defaultTTL
        self.keyPrefix = keyPrefix
        self.limits = limits
    }

    /// The longest TTL a status may have: 10 years. Longer ones overflow
    /// Redis's millisecond expiry (`ERR invalid expire time`) or are typos.
    public static let maximumTTL: Duration = .seconds(10 * 365 * 86_400)
    /// The shortest TTL: one millisecond, Redis's resolution.
    public static let minimumTTL: Duration = .milliseconds(1)

    /// The TTL to use (`ttl`, or ``defaultTTL`` when `nil`).
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` for a TTL outside
    ///   ``minimumTTL``…``maximumTTL``, checked before anything is sent or stored.
    public func resolveTTL(_ ttl: Duration?) throws(ScaleKitError) -> Duration {
        let resolved = ttl ?? defaultTTL
        guard resolved >= Self.minimumTTL, resolved <= Self.maximumTTL else {
            throw ScaleKitError(
                .invalidArgument, "status TTL is \(resolved); it must be within 1 ms…\(Self.maximumTTL.components.seconds) s (10 years)")
        }
        return resolved
    }
}
