import Logging
import Metrics
import MetricsTestKit
import ScaleKit
import ScaleKitTesting
import Testing

/// The rescuer's passes, on the in-memory repository with a manual clock:
/// leases end because the test moves the clock, never by waiting.
@Suite struct VideoLeaseRescuerTests {
    @Test func aPassRequeuesAndAbandonsAndCountsIt() async throws {
        let clock = ManualWallClock()
        let repository = InMemoryVideoRepository(clock: clock, policy: ClaimPolicy(maxAttempts: 2))
        let metrics = TestMetrics()
        let rescuer = VideoLeaseRescuer(repository: repository, batchSize: 2, metricsFactory: metrics)
        for index in 0..<5 { _ = try await repository.claimVideo(id: "v\(index)", title: nil, originalURL: nil, lease: .seconds(60)) }
        let last = try await repository.claimVideo(id: "last", title: nil, originalURL: nil, lease: .seconds(60))
        try await repository.failVideo(id: "last", token: last.token!, error: "x")
        _ = try await repository.claimVideo(id: "last", title: nil, originalURL: nil, lease: .seconds(60))
        #expect(try await rescuer.rescueOnce() == LeaseRescue())

        clock.advance(by: .seconds(61))
        // Batches of two until one comes back short: all six in one pass.
        #expect(try await rescuer.rescueOnce() == LeaseRescue(requeued: 5, abandoned: 1))
        #expect(try await repository.video(id: "last")?.state == .abandoned)
        #expect(try await repository.videos(state: .failed).count == 5)
        let requeued = try metrics.expectCounter("scalekit_videos_rescued_total", [("outcome", "requeued")])
        let abandoned = try metrics.expectCounter("scalekit_videos_rescued_total", [("outcome", "abandoned")])
        #expect(requeued.totalValue == 5 && abandoned.totalValue == 1)
        #expect(try await rescuer.rescueOnce() == LeaseRescue())
    }
}
