import Foundation
import InMemoryTracing
import Instrumentation
import ScaleKit
import ScaleKitPostgres
import ScaleKitRedis
import ScaleKitSQLite
import ScaleKitTestSupport
import Testing
import Tracing

/// Every primitive's operation is a span with OpenTelemetry's attribute
/// names, and no span carries a secret or a bound value.
///
/// One in-memory tracer is bootstrapped for the whole test process (the
/// tracing system takes one); each test runs under a root span of its own and
/// looks only at the spans of that trace.
@Suite struct TracingTests {
    static let tracer: InMemoryTracer = {
        let tracer = InMemoryTracer()
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    /// Runs `body` under a fresh root span and returns the spans of its trace, by name.
    private func spans(_ body: () async throws -> Void) async throws -> [String: [FinishedInMemorySpan]] {
        let tracer = Self.tracer
        let traceID = try await withSpan("test root") { root in
            try await body()
            return root.context.inMemorySpanContext?.traceID
        }
        let id = try #require(traceID)
        return Dictionary(grouping: tracer.finishedSpans.filter { $0.traceID == id && $0.operationName != "test root" }, by: \.operationName)
    }

    @Test(.enabled(if: TestServers.redisEnabled)) func redisTrackersTraceTheirDecisionAndRetries() async throws {
        let client = try RedisClient(url: try TestServers.requireRedisURL())
        // The hour limit's refusal needs both calls in one hour window (Redis's clock): a run that crossed is run again.
        let found = try await CalendarWindows.inOneHour {
            let prefix = "sktest:tracing:\(UUID().uuidString.prefix(8))"
            let api = RedisAPITracker(client: client, configuration: APITrackerConfiguration(limits: APILimits(daily: 10, hourly: 1), keyPrefix: prefix))
            let status = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: prefix))
            return try await spans {
                _ = try await api.checkAndCount()
                _ = try await api.checkAndCount()
                try await status.mergeStatus(["secret-field": "secret-value"], for: "job-that-must-not-appear")
            }
        }
        let checks = try #require(found["api_tracker.check_and_count"])
        #expect(checks.count == 2)
        #expect(checks.map { $0.attributes["scalekit.api.allowed"]?.toSpanAttribute() } == [true, false].map { $0.toSpanAttribute() })
        #expect(checks[1].attributes["scalekit.api.denied_by"]?.toSpanAttribute() == "hour".toSpanAttribute())
        #expect(checks[0].attributes["db.system"]?.toSpanAttribute() == "redis".toSpanAttribute())
        #expect(checks[0].attributes["server.address"]?.toSpanAttribute() == "127.0.0.1".toSpanAttribute())
        let merge = try #require(found["status_tracker.merge"]?.first)
        #expect(merge.attributes["scalekit.status.merge_attempts"]?.toSpanAttribute() == 1.toSpanAttribute())
        // Nothing the caller passed in is in any span.
        let everything = found.values.flatMap { $0 }.map { "\($0.attributes)" }.joined()
        #expect(!everything.contains("job-that-must-not-appear") && !everything.contains("secret"))
        await client.shutdown()
    }

    @Test func fileTrackerTracesItsDecision() async throws {
        // The hour limit's refusal needs both calls in one hour window: a run that crossed is run again.
        let found = try await CalendarWindows.inOneHour {
            let folder = try TemporaryFolder()
            let tracker = FileAPITracker(path: folder.path("api.json"), configuration: APITrackerConfiguration(limits: APILimits(daily: 10, hourly: 1)))
            return try await spans {
                _ = try await tracker.checkAndCount()
                _ = try await tracker.checkAndCount()
            }
        }
        let checks = try #require(found["api_tracker.check_and_count"])
        #expect(checks.map { $0.attributes["scalekit.api.allowed"]?.toSpanAttribute() } == [true, false].map { $0.toSpanAttribute() })
        #expect(checks[1].attributes["scalekit.api.denied_by"]?.toSpanAttribute() == "hour".toSpanAttribute())
        #expect(checks[0].attributes["scalekit.backend"]?.toSpanAttribute() == "file".toSpanAttribute())
    }

    @Test func claimsTraceTheirOutcomeOnBothSQLBackends() async throws {
        let folder = try TemporaryFolder()
        var repositories: [(String, any VideoRepository)] = [("sqlite", try await SQLiteVideoRepository(path: folder.path("v.sqlite")))]
        if TestServers.postgresEnabled {
            repositories.append(("postgresql", try PostgresVideoRepository(url: try TestServers.requireDatabaseURL(), schema: "scalekit_trace_\(UUID().uuidString.prefix(8).lowercased())")))
        }
        for (system, repository) in repositories {
            let id = "traced-\(UUID().uuidString)"
            let found = try await spans {
                let claim = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(600))
                _ = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(600))
                _ = try await repository.completeVideo(id: id, token: try #require(claim.token))
            }
            let claims = try #require(found["videos.claim"])
            #expect(claims.map { $0.attributes["scalekit.claim.outcome"]?.toSpanAttribute() } == ["created", "alreadyProcessing"].map { $0.toSpanAttribute() }, "\(system)")
            #expect(claims[0].attributes["db.system"]?.toSpanAttribute() == system.toSpanAttribute())
            #expect(found["videos.complete"]?.count == 1, "\(system)")
            #expect(!found.values.flatMap { $0 }.map { "\($0.attributes)" }.joined().contains(id), "\(system): a span carries the video id")
            if let postgres = repository as? PostgresVideoRepository { await postgres.shutdown() }
        }
    }

    @Test func poolWaitsAndMixesAreSpans() async throws {
        let pool = ConnectionPool<TracedConnection>(
            configuration: ConnectionPoolConfiguration(size: 1, maxOverflow: 0), name: "traced.pool",
            factory: { TracedConnection() })
        let found = try await spans {
            // Two callers on one connection: the second waits.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 { group.addTask { try await pool.withConnection { _ in try await Task.sleep(for: .milliseconds(50)) } } }
                try await group.waitForAll()
            }
            let tone = PCMBuffer(format: .stereo48k, samples: [Float](repeating: 0.1, count: 9_600))
            _ = try await PCMAudioMixer().join(AudioJoin(segments: [.pcm(tone, name: "a"), .pcm(tone, name: "b")]), into: .memory(format: .stereo48k))
        }
        let wait = try #require(found["pool.checkout.wait"]?.first)
        #expect(wait.attributes["db.client.connection.pool.name"]?.toSpanAttribute() == "traced.pool".toSpanAttribute())
        let join = try #require(found["audio.join"]?.first)
        #expect(join.attributes["scalekit.audio.inputs"]?.toSpanAttribute() == 2.toSpanAttribute())
        #expect(join.attributes["scalekit.audio.mixer"]?.toSpanAttribute() == "pcm".toSpanAttribute())
        #expect(join.attributes["scalekit.audio.seconds_rendered"]?.toSpanAttribute() == 0.2.toSpanAttribute())
        await pool.shutdown()
    }
}

/// A pooled connection that does nothing.
private final class TracedConnection: PooledConnection {
    func ping() async throws {}
    func prepareForReuse() async -> Bool { true }
    func close() async {}
}
