public import ScaleKit

extension ScaleKitBackends {
    /// Every primitive in this process's memory, for tests and previews: one
    /// call instead of assembling the in-memory backends and their
    /// ``BackendChoice``s by hand.
    ///
    /// The three backends share `clock`, so a test that passes a
    /// `ManualWallClock` (ScaleKitTesting) moves API windows, status TTLs and
    /// video leases together. Nothing is shared with other processes or kept
    /// after the process ends; there are no pools, services, health checks or
    /// audits.
    ///
    /// ```swift
    /// let clock = ManualWallClock()
    /// let backends = ScaleKitBackends.inMemory(limits: APILimits(daily: 3, hourly: 2), clock: clock)
    /// let app = makeApplication(backends: backends)
    /// ```
    ///
    /// - Parameters:
    ///   - limits: the default quota's daily and hourly limits (the seed's `RAPIDAPI_*_LIMIT`).
    ///   - quotas: further named quotas (see ``/ScaleKit/Quota``).
    ///   - status: the status tracker's TTL, key prefix and size limits.
    ///   - claimPolicy: attempts cap and retry backoff of the video repository.
    ///   - clock: the wall clock every backend reads.
    public static func inMemory(
        limits: APILimits = .default, quotas: [Quota] = [], status: StatusTrackerConfiguration = StatusTrackerConfiguration(),
        claimPolicy: ClaimPolicy = ClaimPolicy(), clock: any WallClock = .system
    ) -> ScaleKitBackends {
        var trackerConfiguration = APITrackerConfiguration(limits: limits)
        trackerConfiguration.extraQuotas = quotas
        func choice(_ primitive: String) -> BackendChoice {
            BackendChoice(
                primitive: primitive, backend: "in-memory", isDistributed: false, location: "this process",
                reason: "ScaleKitBackends.inMemory")
        }
        return ScaleKitBackends(
            apiTracker: InMemoryAPITracker(configuration: trackerConfiguration, clock: clock),
            statusTracker: InMemoryStatusTracker(configuration: status, clock: clock),
            videos: InMemoryVideoRepository(clock: clock, policy: claimPolicy),
            choices: [choice("API tracker"), choice("status tracker"), choice("video repository")],
            services: [])
    }
}
