import Foundation
import ScaleKit
import ScaleKitTesting
import Testing

@Suite struct InMemoryConformanceTests {
    @Test func apiTracker() async throws {
        try await APITrackingConformance.run { limits, clock in
            InMemoryAPITracker(configuration: APITrackerConfiguration(limits: limits), clock: clock)
        }
    }

    @Test func quotas() async throws {
        try await QuotaConformance.run { quotas, clock in
            InMemoryAPITracker(configuration: APITrackerConfiguration(extraQuotas: quotas), clock: clock)
        }
    }

    @Test func statusTracker() async throws {
        try await StatusTrackingConformance.run(
            { clock in InMemoryStatusTracker(clock: clock) },
            advance: { clock, duration in clock.advance(by: duration) })
    }

    @Test func videoRepository() async throws {
        try await VideoRepositoryConformance.run { clock, policy in InMemoryVideoRepository(clock: clock, policy: policy) }
    }
}
