import Foundation

/// A ``StatusTracking`` that keeps statuses in this process's memory.
///
/// The embedded default when there is no Redis, and a fake for unit tests:
/// merges are atomic across the tasks of one process; expired statuses
/// disappear on read. Fenced writes are checked and stored under the same
/// lock, so the check and the write are one step. Never blocks.
public final class InMemoryStatusTracker: StatusTracking {
    private struct Entry {
        var document: JSONValue
        var expiresAt: Date
    }

    public let configuration: StatusTrackerConfiguration
    private let clock: any WallClock
    private let entries = SanitizerVisibleMutex([String: Entry]())

    public init(configuration: StatusTrackerConfiguration = StatusTrackerConfiguration(), clock: any WallClock = .system) {
        self.configuration = configuration
        self.clock = clock
    }

    /// Replaces the status, stamping `updated_at` (and dropping any stored fence).
    public func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?) async throws {
        try await setStatus(status, for: jobID, ttl: ttl, fence: nil)
    }

    /// Replaces the status under `fence` (see ``StatusFence``).
    public func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws {
        try Identifier.validate(jobID, kind: "job id")
        let ttl = try configuration.resolveTTL(ttl)
        let now = clock.now()
        var stamped = status
        stamped.updatedAt = now
        stamped.fence = nil
        stamped.fields[JobStatus.Member.fence] = nil
        let document = stamped.jsonObject
        try document.validate(limits: configuration.limits)
        try entries.withLock { entries throws(ScaleKitError) in
            let current = entries[jobID].flatMap { $0.expiresAt > now ? $0.document : nil }
            let fenced = try StatusFence.fenced(document, over: current, fence: fence, keepingStored: false, jobID: jobID)
            entries[jobID] = Entry(document: fenced, expiresAt: now.addingTimeInterval(ttl.timeInterval))
        }
    }

    /// Merges a patch atomically (keeping any stored fence).
    public func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?) async throws -> JobStatus {
        try await mergeStatus(patch, for: jobID, ttl: ttl, fence: nil)
    }

    /// Merges a patch atomically under `fence` (see ``StatusFence``).
    public func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws -> JobStatus {
        try Identifier.validate(jobID, kind: "job id")
        try JobStatus.validatePatch(patch, limits: configuration.limits)
        let ttl = try configuration.resolveTTL(ttl)
        let now = clock.now()
        let stamp: JSONValue = [JobStatus.Member.updatedAt: .string(JobStatus.formatTimestamp(now))]
        let merged: JSONValue = try entries.withLock { entries throws(ScaleKitError) in
            let stored = entries[jobID].flatMap { $0.expiresAt > now ? $0.document : nil }
            let current = stored ?? .object([:])
            let merged = try StatusFence.fenced(
                JSONMergePatch.apply(stamp, to: JSONMergePatch.apply(patch, to: current)), over: stored, fence: fence,
                keepingStored: true, jobID: jobID)
            try merged.validate(limits: configuration.limits)
            entries[jobID] = Entry(document: merged, expiresAt: now.addingTimeInterval(ttl.timeInterval))
            return merged
        }
        return try JobStatus(jsonObject: merged)
    }

    public func status(for jobID: String) async throws -> JobStatus? {
        try Identifier.validate(jobID, kind: "job id")
        let now = clock.now()
        let document: JSONValue? = entries.withLock { entries in
            guard let entry = entries[jobID] else { return nil }
            if entry.expiresAt <= now {
                entries[jobID] = nil
                return nil
            }
            return entry.document
        }
        return try document.map { document throws(ScaleKitError) in try JobStatus(jsonObject: document) }
    }

    public func deleteStatus(for jobID: String) async throws -> Bool {
        try Identifier.validate(jobID, kind: "job id")
        let now = clock.now()
        return entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: jobID) else { return false }
            return entry.expiresAt > now
        }
    }
}
