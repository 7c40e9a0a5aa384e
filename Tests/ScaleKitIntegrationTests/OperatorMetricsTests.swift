import Foundation
import Metrics
import MetricsTestKit
import ScaleKit
import ScaleKitAudio
import ScaleKitPostgres
import ScaleKitRedis
import ScaleKitSQLite
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

/// The counters operators watch (Docs/Operations.md), captured per test with
/// MetricsTestKit through each backend's `metricsFactory`: nothing here
/// touches the global `MetricsSystem`.
@Suite struct OperatorMetricsTests {
    // MARK: API calls allowed and denied

    /// One allowed and one denied call on the default quota (1 an hour), two
    /// allowed and one denied on `media` (2 a day), one of them a reservation.
    static func expectAPICounters(_ makeTracker: (APITrackerConfiguration, TestMetrics) throws -> any APITracking) async throws {
        let metrics = TestMetrics()
        let configuration = APITrackerConfiguration(
            limits: APILimits(daily: 10, hourly: 1), keyPrefix: "sktest:metrics:\(UUID().uuidString.prefix(8))",
            extraQuotas: [Quota("media", limits: [QuotaLimit(2, per: .calendar(.day))])])
        let tracker = try makeTracker(configuration, metrics)
        #expect(try await tracker.checkAndCount().isAllowed)
        #expect(try await tracker.checkAndCount().deniedBy == .hour)
        #expect(try await tracker.checkAndCount(QuotaRequest(quota: "media")).isAllowed)
        #expect(try await tracker.reserve(QuotaRequest(quota: "media"), holdFor: .seconds(60)).isAllowed)
        let denied = try await tracker.checkAndCount(QuotaRequest(quota: "media"))
        let mediaLimit = try #require(denied.deniedBy)

        let allowed = "scalekit_api_calls_allowed_total", refused = "scalekit_api_calls_denied_total"
        #expect(try metrics.expectCounter(allowed, [("quota", Quota.defaultName)]).totalValue == 1)
        #expect(try metrics.expectCounter(allowed, [("quota", "media")]).totalValue == 2)
        #expect(try metrics.expectCounter(refused, [("quota", Quota.defaultName), ("limit", "hour")]).totalValue == 1)
        #expect(try metrics.expectCounter(refused, [("quota", "media"), ("limit", mediaLimit)]).totalValue == 1)
        #expect(metrics.counterTotal(label: refused) == 2)
    }

    @Test func inMemoryTrackerCountsAllowedAndDeniedCalls() async throws {
        try await Self.expectAPICounters { configuration, metrics in
            InMemoryAPITracker(configuration: configuration, clock: ManualWallClock(), metricsFactory: metrics)
        }
    }

    @Test func fileTrackerCountsAllowedAndDeniedCalls() async throws {
        let folder = try TemporaryFolder()
        try await Self.expectAPICounters { configuration, metrics in
            FileAPITracker(path: folder.path("api.json"), configuration: configuration, clock: ManualWallClock(), metricsFactory: metrics)
        }
    }

    @Test(.enabled(if: TestServers.redisEnabled))
    func redisTrackerCountsAllowedAndDeniedCalls() async throws {
        let client = try RedisClient(url: try TestServers.requireRedisURL())
        try await Self.expectAPICounters { configuration, metrics in
            RedisAPITracker(client: client, configuration: configuration, metricsFactory: metrics)
        }
        await client.shutdown()
    }

    // MARK: Claim outcomes

    /// created, alreadyProcessing, alreadyCompleted; claim-next: claimedPending, then none.
    static func expectClaimCounters(_ repository: any VideoRepository, _ metrics: TestMetrics) async throws {
        let id = "metrics-\(UUID().uuidString.prefix(8))"
        let first = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(600))
        _ = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(600))
        _ = try await repository.completeVideo(id: id, token: try #require(first.token))
        _ = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(600))
        _ = try await repository.enqueueVideo(id: id + "-queued", title: nil, originalURL: nil)
        #expect(try await repository.claimNext(lease: .seconds(600))?.outcome == .claimedPending)
        #expect(try await repository.claimNext(lease: .seconds(600)) == nil)

        let label = "scalekit_video_claims_total"
        for outcome in ["created", "alreadyProcessing", "alreadyCompleted"] {
            #expect(try metrics.expectCounter(label, [("operation", "claim"), ("outcome", outcome)]).totalValue == 1, "\(outcome)")
        }
        #expect(try metrics.expectCounter(label, [("operation", "claim_next"), ("outcome", "claimedPending")]).totalValue == 1)
        #expect(try metrics.expectCounter(label, [("operation", "claim_next"), ("outcome", "none")]).totalValue == 1)
        #expect(metrics.counterTotal(label: label) == 5)
    }

    @Test func inMemoryRepositoryCountsClaimOutcomes() async throws {
        let metrics = TestMetrics()
        try await Self.expectClaimCounters(InMemoryVideoRepository(clock: ManualWallClock(), metricsFactory: metrics), metrics)
    }

    @Test func sqliteRepositoryCountsClaimOutcomes() async throws {
        let folder = try TemporaryFolder()
        let metrics = TestMetrics()
        let repository = try await SQLiteVideoRepository(path: folder.path("videos.sqlite"), metricsFactory: metrics)
        try await Self.expectClaimCounters(repository, metrics)
        await repository.close()
    }

    @Test(.enabled(if: TestServers.postgresEnabled))
    func postgresRepositoryCountsClaimOutcomesAndNamesItsPool() async throws {
        let metrics = TestMetrics()
        let repository = try PostgresVideoRepository(
            url: try TestServers.requireDatabaseURL(), schema: "scalekit_metrics_\(UUID().uuidString.prefix(8).lowercased())",
            name: "test.videos", metricsFactory: metrics)
        try await Self.expectClaimCounters(repository, metrics)
        #expect(try metrics.expectCounter("test.videos.pool.created").totalValue >= 1)
        #expect(metrics.counters(label: "scalekit.postgres.pool.created").isEmpty)
        await repository.shutdown()
    }

    // MARK: Pools and merge retries on Redis

    @Test(.enabled(if: TestServers.redisEnabled))
    func twoRedisClientsKeepTheirPoolMetricsApart() async throws {
        let url = try TestServers.requireRedisURL()
        let metrics = TestMetrics()
        let first = try RedisClient(url: url, name: "test.first", metricsFactory: metrics)
        let second = try RedisClient(url: url, name: "test.second", metricsFactory: metrics)
        try await first.ping()
        try await first.withConnection { _ in try await second.ping() }
        #expect(try metrics.expectCounter("test.first.pool.created").totalValue == 1)
        #expect(try metrics.expectCounter("test.second.pool.created").totalValue == 1)
        #expect(try metrics.expectGauge("test.second.pool.open").lastValue == 1)
        #expect(metrics.counters(label: "scalekit.redis.pool.created").isEmpty)
        await first.shutdown()
        await second.shutdown()
    }

    /// Trackers on one client merge into the same status at once: each
    /// tracker serialises its own merges, so only the trackers race, and a
    /// transaction that loses to another one is retried and counted.
    @Test(.enabled(if: TestServers.redisEnabled))
    func contendedStatusMergesCountTheirRetries() async throws {
        let client = try RedisClient(url: try TestServers.requireRedisURL())
        let metrics = TestMetrics()
        let configuration = StatusTrackerConfiguration(keyPrefix: "sktest:merge-retries:\(UUID().uuidString.prefix(8))")
        let trackers = (0..<6).map { _ in RedisStatusTracker(client: client, configuration: configuration, metricsFactory: metrics) }
        var rounds = 0
        // Contention is likely, not certain, in one round: a few rounds make a retry all but sure.
        while metrics.counterTotal(label: "scalekit_status_merge_retries_total") == 0 && rounds < 10 {
            rounds += 1
            let job = "job-\(rounds)"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, tracker) in trackers.enumerated() {
                    for step in 0..<10 {
                        group.addTask { try await tracker.mergeStatus(["t\(index)": .number(Double(step))], for: job) }
                    }
                }
                try await group.waitForAll()
            }
            let status = try #require(try await trackers[0].status(for: job))
            #expect(status.fields.count == trackers.count)
        }
        #expect(metrics.counterTotal(label: "scalekit_status_merge_retries_total") > 0)
        await client.shutdown()
    }

    // MARK: Audio seconds rendered

    static func expectSecondsRendered(mixer mixerName: String, _ makeMixer: (TestMetrics) -> any AudioMixing) async throws {
        let metrics = TestMetrics()
        let mixer = makeMixer(metrics)
        let format = AudioFormat(sampleRate: 8_000, channels: 1)
        let halfSecond = AudioSource.pcm(PCMBuffer(silenceOf: 4_000, format: format), name: "half")
        let timeline = AudioTimeline(clips: [TimelineClip(source: halfSecond, start: 1.0)])
        for _ in 0..<2 { _ = try await mixer.mix(timeline, into: .memory(format: format)) }
        let join = AudioJoin(segments: [halfSecond, halfSecond])
        _ = try await mixer.join(join, into: .memory(format: format))
        let label = "scalekit_audio_seconds_rendered_total"
        // Two mixes of 1.5 s: the halves add up across renders.
        #expect(try metrics.expectCounter(label, [("mixer", mixerName), ("operation", "mix")]).totalValue == 3)
        #expect(try metrics.expectCounter(label, [("mixer", mixerName), ("operation", "join")]).totalValue == 1)
    }

    @Test func pcmMixerCountsSecondsRendered() async throws {
        try await Self.expectSecondsRendered(mixer: "pcm") { PCMAudioMixer(metricsFactory: $0) }
    }

    @Test func ffmpegMixerCountsSecondsRendered() async throws {
        try await Self.expectSecondsRendered(mixer: "ffmpeg") { FFmpegAudioMixer(metricsFactory: $0) }
    }
}
