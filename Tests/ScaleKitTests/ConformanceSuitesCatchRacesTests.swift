import Foundation
import ScaleKit
import ScaleKitTesting
import Testing

/// The conformance suites must fail the races the seed had: check-then-act
/// with a suspension in between, as a backend making two round trips would.
@Suite struct ConformanceSuitesCatchRacesTests {
    @Test func checkThenCountOvershootsAndIsCaught() async throws {
        let error = await #expect(throws: ConformanceFailures.self) {
            try await APITrackingConformance.run { limits, clock in
                CheckThenCountTracker(inner: InMemoryAPITracker(configuration: APITrackerConfiguration(limits: limits), clock: clock))
            }
        }
        #expect(error?.description.contains("limit holds under 100 concurrent callers") == true, "\(String(describing: error))")
    }

    @Test func getThenSetMergeLosesFieldsAndIsCaught() async throws {
        let error = await #expect(throws: ConformanceFailures.self) {
            try await StatusTrackingConformance.run(
                { clock in GetThenSetStatusTracker(inner: InMemoryStatusTracker(clock: clock)) },
                advance: { clock, duration in clock.advance(by: duration) })
        }
        #expect(error?.description.contains("concurrent merges lose nothing") == true, "\(String(describing: error))")
    }

    /// A tracker that stores statuses of any size fails the suite's size
    /// check, which expects the limits the suite is told the trackers keep.
    @Test func trackerWithoutASizeLimitIsCaught() async throws {
        let error = await #expect(throws: ConformanceFailures.self) {
            try await StatusTrackingConformance.run { clock in
                InMemoryStatusTracker(
                    configuration: StatusTrackerConfiguration(limits: JSONValue.Limits(maximumDepth: 32, maximumBytes: 64 << 20)), clock: clock)
            }
        }
        let description = error?.description ?? ""
        #expect(description.contains("'size limit' failed") && description.contains("expected"), "\(description)")
        #expect(!description.contains("TTL"), "only the size check fails, with the default advance: \(description)")
    }

    @Test func selectThenInsertClaimHasTwoWinnersAndIsCaught() async throws {
        let error = await #expect(throws: ConformanceFailures.self) {
            try await VideoRepositoryConformance.run { clock, policy in SelectThenInsertRepository(inner: InMemoryVideoRepository(clock: clock, policy: policy)) }
        }
        #expect(error?.description.contains("exactly one winner under concurrency") == true, "\(String(describing: error))")
    }
}

/// The gap between a fake's check and its act: long enough that concurrent
/// callers of the suite's race checks all land inside it however slowly the
/// machine schedules them (a bare `Task.yield()` let a loaded machine run the
/// callers one after another, and the race went unseen), short enough for the
/// suites' sequential checks.
enum RaceWindow {
    static func open() async throws { try await Task.sleep(for: .milliseconds(100)) }
}

/// Checks the usage, yields (a round trip), then counts: the seed's Redis tracker.
private struct CheckThenCountTracker: APITracking {
    let inner: InMemoryAPITracker
    func checkAndCount() async throws -> APICallDecision {
        let usage = try await inner.usage()
        try await RaceWindow.open()
        if usage.hourCount >= usage.limits.hourly || usage.dayCount >= usage.limits.daily {
            return try await inner.checkAndCount()
        }
        // Count without checking again (an unconditional INCR): the race.
        let decision = try await inner.checkAndCount()
        return APICallDecision(isAllowed: true, deniedBy: nil, usage: decision.usage)
    }
    func recordOutcome(_ outcome: APICallOutcome) async throws { try await inner.recordOutcome(outcome) }
    func usage() async throws -> APIUsage { try await inner.usage() }
}

/// Reads, yields, writes the whole document back: the seed's merge without WATCH.
private struct GetThenSetStatusTracker: StatusTracking {
    let inner: InMemoryStatusTracker
    func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?) async throws {
        try await inner.setStatus(status, for: jobID, ttl: ttl)
    }
    func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?) async throws -> JobStatus {
        try JobStatus.validatePatch(patch, limits: .default)
        let current = try await inner.status(for: jobID)?.jsonObject ?? [:]
        try await RaceWindow.open()
        let merged = try JobStatus(jsonObject: JSONMergePatch.apply(patch, to: current))
        try await inner.setStatus(merged, for: jobID, ttl: ttl)
        return try await inner.status(for: jobID) ?? merged
    }
    func status(for jobID: String) async throws -> JobStatus? { try await inner.status(for: jobID) }
    func deleteStatus(for jobID: String) async throws -> Bool { try await inner.deleteStatus(for: jobID) }
}

/// Looks the video up, yields, then claims "as new" if it was absent: the seed's check-then-act.
private struct SelectThenInsertRepository: VideoRepository {
    let inner: InMemoryVideoRepository
    func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim {
        let existing = try await inner.video(id: id)
        try await RaceWindow.open()
        let claim = try await inner.claimVideo(id: id, title: title, originalURL: originalURL, lease: lease)
        if existing == nil, !claim.shouldProcess {
            return VideoClaim(video: claim.video, outcome: .created, token: .random())
        }
        return claim
    }
    func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video { try await inner.renewLease(id: id, token: token, lease: lease) }
    func completeVideo(id: String, token: ClaimToken) async throws -> Video { try await inner.completeVideo(id: id, token: token) }
    func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video { try await inner.failVideo(id: id, token: token, error: error) }
    func video(id: String) async throws -> Video? { try await inner.video(id: id) }
    func videos(state: VideoState?, limit: Int) async throws -> [Video] { try await inner.videos(state: state, limit: limit) }
    func enqueueVideo(id: String, title: String?, originalURL: String?) async throws -> Video {
        try await inner.enqueueVideo(id: id, title: title, originalURL: originalURL)
    }
    func claimNext(lease: Duration) async throws -> VideoClaim? { try await inner.claimNext(lease: lease) }
    func rescueExpiredLeases(limit: Int) async throws -> LeaseRescue { try await inner.rescueExpiredLeases(limit: limit) }
}
