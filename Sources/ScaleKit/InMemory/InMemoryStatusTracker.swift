import Foundation

/// A ``StatusTracking`` that keeps statuses in this process's memory.
///
/// The embedded default when there is no Redis, and a fake for unit tests:
/// merges are atomic across the tasks of one process. Fenced writes are
/// checked and stored under the same lock, so the check and the write are
/// one step. Never blocks.
///
/// Expired statuses disappear on read, and are pruned on write: whenever the
/// number held has doubled since the last sweep (and is at least 64), a write
/// sweeps out every expired one. So a long-running process holds fewer than
/// twice the statuses that were live at the last sweep (or 64), however many
/// distinct ids it has seen, at an amortised O(1) per write.
public final class InMemoryStatusTracker: StatusTracking {
    private struct Entry {
        var document: JSONValue
        var expiresAt: Date
    }

    private struct Store {
        var entries: [String: Entry] = [:]
        /// How many entries the last sweep left; the next sweep comes at twice as many.
        var countAfterSweep = 0

        mutating func store(_ entry: Entry, for jobID: String, now: Date) {
            entries[jobID] = entry
            guard entries.count >= max(2 * countAfterSweep, Self.sweepFloor) else { return }
            entries = entries.filter { $0.value.expiresAt > now }
            countAfterSweep = entries.count
        }

        /// Below this many entries nothing is swept: sweeping a handful buys nothing.
        static let sweepFloor = 64
    }

    /// The default TTL, key prefix and size limits this tracker applies.
    public let configuration: StatusTrackerConfiguration
    private let clock: any WallClock
    private let store = SanitizerVisibleMutex(Store())

    /// How many statuses are held right now, live or expired but not yet
    /// pruned: what this tracker costs in memory, for monitoring.
    public var heldStatusCount: Int { store.withLock { $0.entries.count } }

    /// An empty tracker; `clock` decides expiry and `updated_at` (tests pass a
    /// manual one).
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
        try store.withLock { store throws(ScaleKitError) in
            let current = store.entries[jobID].flatMap { $0.expiresAt > now ? $0.document : nil }
            let fenced = try StatusFence.fenced(document, over: current, fence: fence, keepingStored: false, jobID: jobID)
            store.store(Entry(document: fenced, expiresAt: now.addingTimeInterval(ttl.timeInterval)), for: jobID, now: now)
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
        let merged: JSONValue = try store.withLock { store throws(ScaleKitError) in
            let stored = store.entries[jobID].flatMap { $0.expiresAt > now ? $0.document : nil }
            let current = stored ?? .object([:])
            let merged = try StatusFence.fenced(
                JSONMergePatch.apply(stamp, to: JSONMergePatch.apply(patch, to: current)), over: stored, fence: fence,
                keepingStored: true, jobID: jobID)
            try merged.validate(limits: configuration.limits)
            store.store(Entry(document: merged, expiresAt: now.addingTimeInterval(ttl.timeInterval)), for: jobID, now: now)
            return merged
        }
        return try JobStatus(jsonObject: merged)
    }

    /// The job's status, or `nil` when there is none or it expired.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a malformed id.
    public func status(for jobID: String) async throws -> JobStatus? {
        try Identifier.validate(jobID, kind: "job id")
        let now = clock.now()
        let document: JSONValue? = store.withLock { store in
            guard let entry = store.entries[jobID] else { return nil }
            if entry.expiresAt <= now {
                store.entries[jobID] = nil
                return nil
            }
            return entry.document
        }
        return try document.map { document throws(ScaleKitError) in try JobStatus(jsonObject: document) }
    }

    /// Deletes the job's status; returns whether a live one existed.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a malformed id.
    public func deleteStatus(for jobID: String) async throws -> Bool {
        try Identifier.validate(jobID, kind: "job id")
        let now = clock.now()
        return store.withLock { store in
            guard let entry = store.entries.removeValue(forKey: jobID) else { return false }
            return entry.expiresAt > now
        }
    }
}
