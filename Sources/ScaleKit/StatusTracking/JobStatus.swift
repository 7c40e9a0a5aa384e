public import Foundation

/// Where a job is in its life.
public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    case pending
    case processing
    case completed
    case failed
}

/// A job's status: a JSON object with a few well-known members and any
/// number of free-form ones.
///
/// Stored as `{"status": "processing", "progress": 0.4, "message": "…",
/// "updated_at": "2026-11-29T08:00:00Z", …free-form members}`, the shape the
/// seed's `processing_status:<id>` values have, so other services can read it.
public struct JobStatus: Sendable, Hashable {
    /// Names of the well-known members in the stored JSON object.
    public enum Member {
        /// The job's state (`status`, as in the seed).
        public static let state = "status"
        /// Progress from 0 to 1 (`progress`).
        public static let progress = "progress"
        /// A human-readable message (`message`).
        public static let message = "message"
        /// When the status was last written, ISO 8601 (`updated_at`).
        public static let updatedAt = "updated_at"
        /// The fence of the last fenced write (``StatusFenceRecord``), set by the tracker.
        public static let fence = "claim_fence"
    }

    /// The job's state; `pending` when the stored object has none.
    public var state: JobState
    /// Progress from 0 to 1, if reported.
    public var progress: Double?
    /// A human-readable message, if any.
    public var message: String?
    /// When the status was last written (set by the tracker).
    public var updatedAt: Date?
    /// Every other member of the stored object.
    public var fields: [String: JSONValue]
    /// The claim that last wrote this status with a fence (set by the tracker;
    /// a value given to `setStatus` is ignored). `nil`: no fenced write yet.
    public var fence: StatusFenceRecord?

    /// A status to store; the tracker sets ``updatedAt`` and the fence when
    /// it writes.
    public init(
        state: JobState, progress: Double? = nil, message: String? = nil,
        fields: [String: JSONValue] = [:], updatedAt: Date? = nil
    ) {
        self.state = state
        self.progress = progress
        self.message = message
        self.fields = fields
        self.updatedAt = updatedAt
    }

    /// The stored JSON object.
    public var jsonObject: JSONValue {
        var members = fields
        members[Member.state] = .string(state.rawValue)
        if let progress { members[Member.progress] = .number(progress) }
        if let message { members[Member.message] = .string(message) }
        if let updatedAt { members[Member.updatedAt] = .string(Self.formatTimestamp(updatedAt)) }
        if let fence { members[Member.fence] = fence.json }
        return .object(members)
    }

    /// Reads a stored object. Throws ``ScaleKitError/Code/corruptData`` when
    /// it is not an object or a well-known member has the wrong type.
    public init(jsonObject: JSONValue) throws(ScaleKitError) {
        guard var members = jsonObject.objectValue else {
            throw ScaleKitError(.corruptData, "a job status must be a JSON object")
        }
        do {
            try Self.checkWellKnownMembers(members)
        } catch {
            throw ScaleKitError(.corruptData, "stored status is invalid: \(error.message)")
        }
        state = members.removeValue(forKey: Member.state)?.stringValue.flatMap(JobState.init(rawValue:)) ?? .pending
        progress = members.removeValue(forKey: Member.progress)?.numberValue
        message = members.removeValue(forKey: Member.message)?.stringValue
        updatedAt = members.removeValue(forKey: Member.updatedAt)?.stringValue.flatMap(Self.parseTimestamp)
        fence = StatusFenceRecord(json: members.removeValue(forKey: Member.fence))
        fields = members
    }

    /// Checks a merge patch before any backend applies it: it must be an
    /// object within `limits`, and set the well-known members only to values
    /// of their type (or `null`, which removes them).
    public static func validatePatch(_ patch: JSONValue, limits: JSONValue.Limits) throws(ScaleKitError) {
        guard let members = patch.objectValue else {
            throw ScaleKitError(.invalidArgument, "a status patch must be a JSON object")
        }
        try patch.validate(limits: limits)
        try checkWellKnownMembers(members.filter { $0.value != .null })
        for member in [Member.updatedAt, Member.fence] where members[member] != nil {
            throw ScaleKitError(.invalidArgument, "\(member) is set by the tracker")
        }
    }

    private static func checkWellKnownMembers(_ members: [String: JSONValue]) throws(ScaleKitError) {
        if let state = members[Member.state] {
            guard let name = state.stringValue, JobState(rawValue: name) != nil else {
                let names = JobState.allCases.map(\.rawValue).joined(separator: ", ")
                throw ScaleKitError(.invalidArgument, "\(Member.state) must be one of \(names)")
            }
        }
        if let progress = members[Member.progress] {
            guard let value = progress.numberValue, (0...1).contains(value) else {
                throw ScaleKitError(.invalidArgument, "\(Member.progress) must be a number from 0 to 1")
            }
        }
        if let message = members[Member.message], message.stringValue == nil {
            throw ScaleKitError(.invalidArgument, "\(Member.message) must be a string")
        }
    }

    /// Formats a timestamp the way `updated_at` stores it (ISO 8601, UTC, milliseconds).
    public static func formatTimestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func parseTimestamp(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
