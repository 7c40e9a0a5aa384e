// The Redis trackers against a real redis-server (SCALEKIT_BENCH_REDIS_URL,
// set by scripts/bench.sh; without it these benchmarks are not registered).
// Each iteration is a batch of `ops` calls spread over the tasks; ops/s is
// ops over the batch's wall clock. scripts/bench.sh runs the seed's stack and
// redis-benchmark (the same check-and-count script) against the same server.

import Benchmark
import BenchmarkSupport
import Foundation
import ScaleKit
import ScaleKitRedis

/// Limits no benchmark reaches, so every call is counted (as in the seed's run).
let unreachableLimits = APILimits(daily: 1_000_000_000_000, hourly: 1_000_000_000_000)

/// A key prefix of its own per run, so runs and the seed's keys never meet.
let runPrefix = "scalekit-bench:\(UInt32.random(in: 0...UInt32.max))"

/// Time, allocations and peak memory per batch, chosen explicitly.
var redisConfiguration: Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 30
    )
}

/// The CPU part of one status merge, without Redis: decode the stored
/// document (16 workers' fields), apply the patch and the timestamp, check
/// the limits, encode it, and read it back as a `JobStatus`. Runs without a
/// server, so the share of a merge spent in the process can be read off.
func registerStatusCodec() {
    var fields: [String: JSONValue] = ["status": .string("processing"), "progress": .number(0.5)]
    for worker in 0..<16 { fields["worker_\(worker)"] = .number(Double(worker * 37)) }
    fields["updated_at"] = .string(JobStatus.formatTimestamp(Date()))
    let stored = JSONValue.object(fields).encoded()
    let ops = 1_000
    Benchmark(
        "statusCodec.decodeMergeEncode.ops=\(ops)",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal], warmupIterations: 2, maxDuration: .seconds(2), maxIterations: 50)
    ) { benchmark in
        do {
            for call in 0..<ops {
                let current = try JSONValue.decode(stored)
                let patch: JSONValue = .object(["progress": .number(Double(call) / Double(ops)), "worker_3": .number(Double(call))])
                let stamp: JSONValue = .object(["updated_at": .string(JobStatus.formatTimestamp(Date()))])
                let merged = JSONMergePatch.apply(stamp, to: JSONMergePatch.apply(patch, to: current))
                try merged.validate()
                blackHole(merged.encoded())
                blackHole(try JobStatus(jsonObject: merged))
            }
        } catch {
            benchmark.error("status codec failed: \(error)")
        }
    }
    // Its two parts: the JSON round trip alone, and the timestamp alone.
    let codecOnly = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 2, maxDuration: .seconds(2), maxIterations: 50)
    Benchmark("statusCodec.jsonDecodeEncodeOnly.ops=\(ops)", configuration: codecOnly) { benchmark in
        do {
            for _ in 0..<ops { blackHole(try JSONValue.decode(stored).encoded()) }
        } catch {
            benchmark.error("status codec failed: \(error)")
        }
    }
    Benchmark("statusCodec.timestampOnly.ops=\(ops)", configuration: codecOnly) { _ in
        for _ in 0..<ops { blackHole(JobStatus.formatTimestamp(Date())) }
    }
}

let benchmarks: @Sendable () -> Void = {
    registerStatusCodec()
    guard let url = ProcessInfo.processInfo.environment["SCALEKIT_BENCH_REDIS_URL"] else { return }
    // One client for every benchmark: the pool (10 kept, 20 overflow) is warm
    // after the first, as in a long-running service; its run() is active.
    let client: RedisClient
    do {
        client = try RedisClient(url: url)
    } catch {
        fatalError("SCALEKIT_BENCH_REDIS_URL: \(error)")
    }
    let runner = ServiceRunner()

    @Sendable func apiTracker(_ name: String) -> RedisAPITracker {
        runner.start(client)
        return RedisAPITracker(
            client: client,
            configuration: APITrackerConfiguration(limits: unreachableLimits, keyPrefix: "\(runPrefix):\(name)"))
    }

    /// One script, one round trip, from 1 and from 16 tasks: compare with redis-benchmark running it.
    func registerCheckAndCount(_ label: String, _ makeTracker: @escaping @Sendable (Int) -> RedisAPITracker) {
        for (tasks, ops) in [(1, 2_000), (16, 4_000)] {
            let shape = tasks == 1 ? "1connection" : "\(tasks)tasks"
            Benchmark("checkAndCount.\(label)\(shape).ops=\(ops)", configuration: redisConfiguration) {
                (benchmark: Benchmark, tracker: RedisAPITracker) async in
                do {
                    try await runBatch(operations: ops, tasks: tasks) { _, _ in
                        let decision = try await tracker.checkAndCount()
                        precondition(decision.isAllowed)
                    }
                } catch {
                    benchmark.error("checkAndCount \(label)failed: \(error)")
                }
            } setup: {
                makeTracker(tasks)
            }
        }
    }
    registerCheckAndCount("") { tasks in apiTracker("cc\(tasks)") }

    // One task that prefers the Redis loop's thread as its executor
    // (RedisClient.eventLoopExecutor): replies resume it without waking a
    // thread of the cooperative pool.
    Benchmark("checkAndCount.1connection.loopExecutor.ops=2000", configuration: redisConfiguration) {
        (benchmark: Benchmark, tracker: RedisAPITracker) async in
        do {
            try await withTaskExecutorPreference(RedisClient.eventLoopExecutor) {
                for _ in 0..<2_000 {
                    let decision = try await tracker.checkAndCount()
                    precondition(decision.isAllowed)
                }
            }
        } catch {
            benchmark.error("checkAndCount on the loop's executor failed: \(error)")
        }
    } setup: {
        apiTracker("ccloop")
    }

    // The same check-and-count over TLS (a TLS-only redis-server beside the
    // plain one, certificates from a throwaway CA): compare with the plain rows.
    let environment = ProcessInfo.processInfo.environment
    if let tlsURL = environment["SCALEKIT_BENCH_REDIS_TLS_URL"], let ca = environment["SCALEKIT_BENCH_REDIS_TLS_CA"] {
        let tlsClient: RedisClient
        do {
            var configuration = try RedisConnectionConfiguration(url: tlsURL)
            configuration.tls?.caFile = ca
            tlsClient = RedisClient(configuration: configuration, name: "scalekit.redis.tls")
        } catch {
            fatalError("SCALEKIT_BENCH_REDIS_TLS_URL: \(error)")
        }
        registerCheckAndCount("tls.") { tasks in
            RedisAPITracker(
                client: tlsClient, configuration: APITrackerConfiguration(limits: unreachableLimits, keyPrefix: "\(runPrefix):tls\(tasks)"))
        }
    }

    // A quota of 3 limits (per second, per hour per tenant, per day) against
    // a quota of 1 limit, both one script per call, 16 tasks: the 3-limit
    // figure should stay within 1.3x the 1-limit one (Docs/Quotas.md).
    let big = 1_000_000_000_000
    let quotas = [
        Quota("one", limits: [QuotaLimit(big, per: .calendar(.day))]),
        Quota("three", limits: [
            QuotaLimit(big, per: .calendar(.second)), QuotaLimit(big, per: .calendar(.hour), perKey: true),
            QuotaLimit(big, per: .calendar(.day)),
        ]),
    ]
    for (name, limits) in [("one", 1), ("three", 3)] {
        let ops = 4_000
        Benchmark("quotaCheckAndCount.\(limits)limit\(limits == 1 ? "" : "s").16tasks.ops=\(ops)", configuration: redisConfiguration) {
            (benchmark: Benchmark, tracker: RedisAPITracker) async in
            do {
                try await runBatch(operations: ops, tasks: 16) { task, _ in
                    let request = QuotaRequest(quota: name, key: limits == 1 ? nil : "tenant-\(task % 4)")
                    let decision = try await tracker.checkAndCount(request)
                    precondition(decision.isAllowed)
                }
            } catch {
                benchmark.error("quota checkAndCount failed: \(error)")
            }
        } setup: {
            runner.start(client)
            return RedisAPITracker(
                client: client,
                configuration: APITrackerConfiguration(limits: unreachableLimits, keyPrefix: "\(runPrefix):quota-\(name)", extraQuotas: quotas))
        }
    }

    // What the seed does per call (can_make_request, then record_request):
    // the check-and-count, then the outcome (10 % failures, as the seed's run).
    for (tasks, ops) in [(1, 1_000), (16, 2_000)] {
        let shape = tasks == 1 ? "1connection" : "\(tasks)tasks"
        Benchmark("checkAndCountThenRecord.\(shape).ops=\(ops)", configuration: redisConfiguration) {
            (benchmark: Benchmark, tracker: RedisAPITracker) async in
            do {
                try await runBatch(operations: ops, tasks: tasks) { _, call in
                    if try await tracker.checkAndCount().isAllowed {
                        try await tracker.recordOutcome(call % 10 == 9 ? .failure : .success)
                    }
                }
            } catch {
                benchmark.error("checkAndCount + recordOutcome failed: \(error)")
            }
        } setup: {
            apiTracker("ccr\(tasks)")
        }
    }

    // One task's status merges on the Redis loop's executor.
    let loopJobID = "\(runPrefix)-merge-loop"
    Benchmark("statusMerge.1task.loopExecutor.ops=1000", configuration: redisConfiguration) {
        (benchmark: Benchmark, tracker: RedisStatusTracker) async in
        do {
            try await withTaskExecutorPreference(RedisClient.eventLoopExecutor) {
                for call in 0..<1_000 {
                    let patch: JSONValue = .object(["progress": .number(Double(call) / 1_000), "worker_0": .number(Double(call))])
                    try await tracker.mergeStatus(patch, for: loopJobID)
                }
            }
        } catch {
            benchmark.error("mergeStatus on the loop's executor failed: \(error)")
        }
    } setup: {
        runner.start(client)
        let tracker = RedisStatusTracker(client: client)
        try await tracker.mergeStatus(.object(["status": .string("processing")]), for: loopJobID)
        return tracker
    }

    // Partial status updates: one task, then 16 tasks all on one job's status.
    for (tasks, ops) in [(1, 1_000), (16, 1_600)] {
        let shape = tasks == 1 ? "1task" : "\(tasks)tasks.hotKey"
        let jobID = "\(runPrefix)-merge-\(tasks)"
        Benchmark("statusMerge.\(shape).ops=\(ops)", configuration: redisConfiguration) {
            (benchmark: Benchmark, tracker: RedisStatusTracker) async in
            do {
                try await runBatch(operations: ops, tasks: tasks) { task, call in
                    let patch: JSONValue = .object([
                        "progress": .number(Double(call) / Double(ops)), "worker_\(task)": .number(Double(call)),
                    ])
                    try await tracker.mergeStatus(patch, for: jobID)
                }
            } catch {
                benchmark.error("mergeStatus failed: \(error)")
            }
        } setup: {
            runner.start(client)
            let tracker = RedisStatusTracker(client: client)
            try await tracker.mergeStatus(.object(["status": .string("processing")]), for: jobID)
            return tracker
        } teardown: {
            if tasks == 16 { await runner.stop() }  // the last benchmark of this target
        }
    }
}
