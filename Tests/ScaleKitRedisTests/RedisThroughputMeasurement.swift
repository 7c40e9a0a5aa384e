import Foundation
import Logging
import ScaleKit
@_spi(Benchmarks) import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// Ad hoc throughput figures, printed, never asserted (timing assertions do
/// not belong in tests). Run with SCALEKIT_REDIS_MEASURE=1, preferably in
/// release mode: see Docs/Redis.md for the command and the figures.
@Suite(.serialized, .enabled(if: TestServers.redisURL != nil && ProcessInfo.processInfo.environment["SCALEKIT_REDIS_MEASURE"] == "1"))
struct RedisThroughputMeasurement {
    static let calls = Int(ProcessInfo.processInfo.environment["SCALEKIT_REDIS_MEASURE_CALLS"] ?? "") ?? 20_000

    @Test func recordThroughput() async throws {
        let client = try RedisClient(url: try TestServers.requireRedisURL())
        let limits = APILimits(daily: 1_000_000_000, hourly: 1_000_000_000)
        for concurrency in [1, 16] {
            let tracker = RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: limits, keyPrefix: TestRedis.uniquePrefix("measure")))
            let perTask = Self.calls / concurrency
            let elapsed = try await ContinuousClock().measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<concurrency {
                        group.addTask {
                            for _ in 0..<perTask {
                                _ = try await tracker.checkAndCount()
                                try await tracker.recordOutcome(.success)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let usage = try await tracker.usage()
            #expect(usage.totalCalls == perTask * concurrency && usage.successes == perTask * concurrency)
            print("MEASURE checkAndCount+recordOutcome tasks=\(concurrency) records=\(perTask * concurrency) "
                + "seconds=\(elapsed) records/s=\(Int(Double(perTask * concurrency) / elapsed.timeInterval))")
        }
    }

    /// A 3-limit quota (per second, per hour per key, per day) against a
    /// 1-limit one, 16 tasks, rounds interleaved so both see the same machine.
    @Test func quotaLimitsCost() async throws {
        let client = try RedisClient(url: try TestServers.requireRedisURL())
        let big = 1_000_000_000_000
        let one = Quota("one", limits: [QuotaLimit(big, per: .calendar(.day))])
        let three = Quota("three", limits: [
            QuotaLimit(big, per: .calendar(.second)), QuotaLimit(big, per: .calendar(.hour), perKey: true), QuotaLimit(big, per: .calendar(.day)),
        ])
        let tracker = RedisAPITracker(
            client: client, configuration: APITrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("measure-quota"), extraQuotas: [one, three]))
        let perTask = Self.calls / 16
        var seconds: [String: Double] = [:]
        for round in 0..<4 {
            for (name, key) in [("one", nil), ("three", "tenant")] as [(String, String?)] {
                let elapsed = try await ContinuousClock().measure {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for task in 0..<16 {
                            group.addTask {
                                for _ in 0..<perTask {
                                    let decision = try await tracker.checkAndCount(QuotaRequest(quota: name, key: key.map { "\($0)-\(task % 4)" }))
                                    precondition(decision.isAllowed)
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                if round > 0 { seconds[name, default: 0] += elapsed.timeInterval }  // round 0 warms up
            }
        }
        let calls = Double(perTask * 16 * 3)
        let (oneRate, threeRate) = (calls / seconds["one"]!, calls / seconds["three"]!)
        print("MEASURE quota checkAndCount tasks=16 calls=\(Int(calls)) 1limit/s=\(Int(oneRate)) 3limits/s=\(Int(threeRate)) "
            + "costRatio=\(String(format: "%.3f", oneRate / threeRate))")
    }

    @Test func mergeStrategies() async throws {
        let client = try RedisClient(url: try TestServers.requireRedisURL())
        let strategies: [(String, RedisStatusMergeStrategy)] = [
            ("compare-and-set", .optimisticTransaction(maxAttempts: 1000)), ("Lua cjson", .luaCJSON),
        ]
        for (name, strategy) in strategies {
            for (concurrency, keys) in [(1, 1), (16, 16), (32, 1)] {
                let tracker = RedisStatusTracker(
                    client: client, configuration: StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("merge-measure")),
                    clock: .system, logger: Logger(label: "measure"), mergeStrategy: strategy)
                let perTask = max(1, Self.calls / 4 / concurrency)
                let elapsed = try await ContinuousClock().measure {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for task in 0..<concurrency {
                            group.addTask {
                                for step in 0..<perTask {
                                    try await tracker.mergeStatus(["task_\(task)": .number(Double(step))], for: "job-\(task % keys)")
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                var lost = 0
                for task in 0..<concurrency where try await tracker.status(for: "job-\(task % keys)")?.fields["task_\(task)"] != .number(Double(perTask - 1)) {
                    lost += 1
                }
                #expect(lost == 0)
                print("MEASURE merge strategy=\(name) tasks=\(concurrency) keys=\(keys) merges=\(perTask * concurrency) "
                    + "seconds=\(elapsed) merges/s=\(Int(Double(perTask * concurrency) / elapsed.timeInterval)) lost=\(lost)")
            }
        }
    }
}
