/// What a fenced status write carries: the claim it is written under.
///
/// Pass ``VideoClaim/fence`` to a tracker's write and the tracker refuses
/// the write with ``ScaleKitError/Code/notClaimHolder`` once a later claim
/// of the same job has written its status. The tracker never asks the
/// database: attempt numbers only grow (each claim that starts processing
/// is the video's next attempt), so the stored fence orders the claims:
///
/// - no fence stored, or a lower attempt stored: admitted, and this fence
///   replaces it (a new holder's first write takes the status over);
/// - the same attempt and the same token: admitted;
/// - a higher attempt stored, or the same attempt with another token: refused,
///   and nothing is stored.
///
/// So when worker A's lease expires and B takes over (attempt n + 1), A's
/// writes are refused from B's first write on. Between B's claim and B's
/// first write, A's writes still land: a new holder should write its status
/// right after claiming.
public struct StatusFence: Sendable, Hashable {
    /// The claim's attempt number (``VideoClaim/attempt``), 1 for the first.
    public var attempt: Int
    /// The claim's token. Only its SHA-256 digest is stored with the status.
    public var token: ClaimToken

    /// The fence of the claim with this attempt number and token
    /// (``VideoClaim/attempt``, ``VideoClaim/token``; or use `claim.fence`).
    public init(attempt: Int, token: ClaimToken) {
        self.attempt = attempt
        self.token = token
    }

    /// What the status stores of this fence.
    public var record: StatusFenceRecord { StatusFenceRecord(attempt: attempt, holder: SHA256.hex(token.rawValue)) }

    /// Throws ``ScaleKitError/Code/notClaimHolder`` unless a write with this
    /// fence may replace a status whose stored fence is `stored`.
    public func admit(over stored: StatusFenceRecord?, jobID: String) throws(ScaleKitError) {
        guard let stored else { return }
        let mine = record
        if attempt > stored.attempt || (attempt == stored.attempt && mine.holder == stored.holder) { return }
        throw ScaleKitError(
            .notClaimHolder,
            "status write for job \(jobID.debugDescription) refused: it carries attempt \(attempt), "
                + "and the claim of attempt \(stored.attempt) has written since (this worker no longer holds the claim)")
    }

    /// Checks a write against the status it replaces and returns `document`
    /// with the fence it must be stored with: this fence's record, or, for an
    /// unfenced merge (`fence == nil`, `keepingStored`), the stored one.
    /// For backends; both trackers call it while they hold the status.
    public static func fenced(
        _ document: JSONValue, over current: JSONValue?, fence: StatusFence?, keepingStored: Bool, jobID: String
    ) throws(ScaleKitError) -> JSONValue {
        let stored = current.flatMap { StatusFenceRecord(json: $0.objectValue?[JobStatus.Member.fence]) }
        guard var members = document.objectValue else { return document }
        if let fence {
            try fence.admit(over: stored, jobID: jobID)
            members[JobStatus.Member.fence] = fence.record.json
        } else if keepingStored, let stored {
            members[JobStatus.Member.fence] = stored.json
        } else {
            members[JobStatus.Member.fence] = nil
        }
        return .object(members)
    }
}

/// The fence stored with a status (member `claim_fence`): the attempt that
/// wrote last with a fence, and a SHA-256 digest of its token (never the token).
public struct StatusFenceRecord: Sendable, Hashable {
    /// The attempt of the last fenced write.
    public var attempt: Int
    /// The SHA-256 of the writer's token, as 64 lowercase hex digits.
    public var holder: String

    /// A stored fence: the attempt and the SHA-256 hex digest of its token.
    public init(attempt: Int, holder: String) {
        self.attempt = attempt
        self.holder = holder
    }

    /// The stored form: `{"attempt": 2, "holder": "<sha-256 hex>"}`.
    public var json: JSONValue { .object(["attempt": .number(Double(attempt)), "holder": .string(holder)]) }

    /// Reads the stored form; `nil` when absent or not of that shape.
    public init?(json: JSONValue?) {
        guard let members = json?.objectValue, let attempt = members["attempt"]?.numberValue,
            let holder = members["holder"]?.stringValue, attempt.rounded() == attempt, abs(attempt) < 1e15
        else { return nil }
        self.init(attempt: Int(attempt), holder: holder)
    }
}

extension VideoClaim {
    /// The fence to pass with this claim's status writes; `nil` unless the caller won the claim.
    public var fence: StatusFence? { token.map { StatusFence(attempt: attempt, token: $0) } }
}
