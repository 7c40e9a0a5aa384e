import Foundation
import ScaleKit
import ScaleKitServices
import ScaleKitTesting
import Testing

/// `ScaleKitBackends.inMemory`: one call gives a test every primitive, with
/// the limits it asked for and one clock that moves windows, TTLs and leases.
@Suite struct InMemoryBackendsTests {
    @Test func limitsQuotasAndChoicesAreTheOnesAskedFor() async throws {
        let backends = ScaleKitBackends.inMemory(
            limits: APILimits(daily: 3, hourly: 2), quotas: [Quota("tts", limits: [QuotaLimit(5, per: .calendar(.day))])],
            clock: ManualWallClock())
        #expect(try await backends.apiTracker.checkAndCount().isAllowed)
        #expect(try await backends.apiTracker.checkAndCount().isAllowed)
        let third = try await backends.apiTracker.checkAndCount()
        #expect(!third.isAllowed && third.deniedBy == .hour, "\(third)")
        let tts = try await backends.apiTracker.checkAndCount(QuotaRequest(quota: "tts", cost: 5))
        #expect(tts.isAllowed && tts.usage.remaining == 0, "\(tts)")
        #expect(backends.choices.map(\.primitive) == ["API tracker", "status tracker", "video repository"])
        #expect(backends.choices.allSatisfy { $0.backend == "in-memory" && !$0.isDistributed })
        #expect(backends.services.isEmpty && backends.pools.isEmpty && backends.healthChecks.isEmpty)
    }

    @Test func oneClockMovesWindowsTTLsAndLeases() async throws {
        let clock = ManualWallClock()
        let backends = ScaleKitBackends.inMemory(
            limits: APILimits(daily: 100, hourly: 1), status: StatusTrackerConfiguration(defaultTTL: .seconds(60)), clock: clock)
        #expect(try await backends.apiTracker.checkAndCount().isAllowed)
        #expect(try await !backends.apiTracker.checkAndCount().isAllowed)
        try await backends.statusTracker.setStatus(JobStatus(state: .processing), for: "job")
        let first = try await backends.videos.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(30))
        #expect(first.outcome == .created)

        clock.advance(by: .seconds(3_600))
        #expect(try await backends.apiTracker.checkAndCount().isAllowed, "a new hour")
        #expect(try await backends.statusTracker.status(for: "job") == nil, "the status outlived its TTL")
        let second = try await backends.videos.claimVideo(id: "v", title: nil, originalURL: nil, lease: .seconds(30))
        #expect(second.outcome == .tookOverExpiredLease, "\(second.outcome)")
    }
}
