import Foundation
import ScaleKit
import ScaleKitTesting
import Testing

/// The in-memory status tracker is the embedded default of a long-running
/// service: statuses of jobs nobody asks about again must not accumulate.
@Suite struct InMemoryPruningTests {
    @Test func statusesOfManyJobsStayBoundedByTheLiveOnes() async throws {
        let clock = ManualWallClock()
        let tracker = InMemoryStatusTracker(clock: clock)
        // 100 new jobs a second, each status living a minute: about 6 000 live at any time.
        let perSecond = 100
        let ttl = Duration.seconds(60)
        let live = perSecond * 60
        var largest = 0
        for second in 0..<1_000 {
            for index in 0..<perSecond {
                try await tracker.setStatus(JobStatus(state: .processing), for: "job-\(second)-\(index)", ttl: ttl)
            }
            largest = max(largest, tracker.heldStatusCount)
            clock.advance(by: .seconds(1))
        }
        // 100 000 ids were written; the tracker never held much more than twice the live ones.
        #expect(largest < 2 * (live + perSecond) + 64, "held \(largest) statuses with \(live) live")
        // What was pruned is gone, and what is live is still served.
        #expect(try await tracker.status(for: "job-0-0") == nil)
        #expect(try await tracker.status(for: "job-999-0")?.state == .processing)
    }

    @Test func mergesPruneToo() async throws {
        let clock = ManualWallClock()
        let tracker = InMemoryStatusTracker(clock: clock)
        for index in 0..<10_000 {
            try await tracker.updateStatus("job-\(index)", progress: 0.5, ttl: .seconds(1))
            clock.advance(by: .milliseconds(100))
        }
        // About 10 live at a time: the count stays near the sweep floor.
        #expect(tracker.heldStatusCount <= 128)
    }

    /// Per-key limits over many tenants: each call's window counters and
    /// rolling buckets are pruned once their windows end, so the tracker
    /// holds the live tenants' entries, not every tenant it ever saw.
    /// (The loop yields now and then: it is CPU work on the cooperative pool,
    /// shared with every other test running in parallel.)
    @Test func quotaCountersOfManyKeysStayBoundedByTheLiveWindows() async throws {
        let clock = ManualWallClock()
        let quota = Quota(
            "per-tenant",
            limits: [QuotaLimit(10, per: .calendar(.minute), perKey: true), QuotaLimit(5, per: .rolling(.seconds(10)), perKey: true)])
        var configuration = APITrackerConfiguration()
        configuration.extraQuotas = [quota]
        let tracker = InMemoryAPITracker(configuration: configuration, clock: clock)
        // 2 new tenants a second for 20 minutes: 2 400 tenants, a few hundred live at any time.
        var largest = 0
        for second in 0..<1_200 {
            for index in 0..<2 {
                let decision = try await tracker.checkAndCount(QuotaRequest(quota: "per-tenant", key: "tenant-\(second)-\(index)"))
                #expect(decision.isAllowed)
            }
            largest = max(largest, tracker.heldEntryCount)
            clock.advance(by: .seconds(1))
            if second % 50 == 0 { await Task.yield() }
        }
        // A tenant's minute counter lives at most three minutes (its window
        // and the minute every count is kept past it) and its rolling buckets
        // less: 2 × 180 × 2 entries is the most that can be live.
        #expect(largest <= 720, "held \(largest) entries for 2 400 tenants")
    }
}
