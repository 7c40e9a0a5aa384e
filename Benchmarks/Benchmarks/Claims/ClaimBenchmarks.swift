// Claiming videos: PostgreSQL (SCALEKIT_BENCH_DATABASE_URL, set by
// scripts/bench.sh; without it only SQLite runs), the same PostgreSQL through
// PgBouncer in transaction pooling (SCALEKIT_BENCH_PGBOUNCER_URL, which must
// carry statement_cache=off) and the embedded SQLite default (a temporary
// file). claimVideo with new ids (every claim creates a row) and one hot id
// (every claim after the first finds it already processing), and claimNext
// from a queue of pending videos, from 1 and from 32 tasks.

import Benchmark
import BenchmarkSupport
import Foundation
import ScaleKit
@_spi(Benchmarks) import ScaleKitPostgres
import ScaleKitSQLite
import Synchronization

/// Ids of their own per run, so repeated runs never collide.
let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)

/// Time, allocations and peak memory per batch, chosen explicitly.
var claimConfiguration: Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 30
    )
}

/// Numbers the batches, so new ids stay new across iterations.
final class BatchCounter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

/// Registers the new-id and hot-id benchmarks, at 1 and 32 tasks, for one backend.
func registerClaims(
    backend: String, opsSingle: Int, opsConcurrent: Int,
    make: @escaping @Sendable () async throws -> any VideoRepository
) {
    for tasks in [1, 32] {
        let ops = tasks == 1 ? opsSingle : opsConcurrent
        let shape = tasks == 1 ? "1task" : "\(tasks)tasks"
        let batches = BatchCounter()
        Benchmark("\(backend)Claim.newIds.\(shape).ops=\(ops)", configuration: claimConfiguration) {
            (benchmark: Benchmark, repository: any VideoRepository) async in
            let batch = batches.next()
            do {
                try await runBatch(operations: ops, tasks: tasks) { task, call in
                    let claim = try await repository.claimVideo(id: "\(runID)-\(backend)-\(tasks)-\(batch)-\(task)-\(call)")
                    precondition(claim.outcome == .created)
                }
            } catch {
                benchmark.error("claimVideo failed: \(error)")
            }
        } setup: {
            try await make()
        }

        let hotID = "\(runID)-\(backend)-hot-\(tasks)"
        Benchmark("\(backend)Claim.hotId.\(shape).ops=\(ops)", configuration: claimConfiguration) {
            (benchmark: Benchmark, repository: any VideoRepository) async in
            do {
                try await runBatch(operations: ops, tasks: tasks) { _, _ in
                    let claim = try await repository.claimVideo(id: hotID)
                    precondition(!claim.shouldProcess)
                }
            } catch {
                benchmark.error("claimVideo failed: \(error)")
            }
        } setup: {
            let repository = try await make()
            _ = try await repository.claimVideo(id: hotID)  // the one winner, before the clock starts
            return repository
        }
    }
}

/// Fails a claimNext batch that found nothing: it would be timing an empty queue.
struct EmptyQueue: Error, CustomStringConvertible {
    var description: String { "claimNext found no pending video: the queue was not filled deep enough" }
}

/// Registers claimNext at 1 and 32 tasks for one PostgreSQL repository.
///
/// claimNext must find work on every call, or it measures an empty queue
/// (one index probe, no update). So each benchmark's setup first fills the
/// queue, before the clock starts, with more pending videos than all its
/// iterations can take: (warm-up + maximum iterations + 1) × ops, e.g.
/// 31 × 1 600 + 1 600 = 51 200 at 32 tasks, in one `INSERT … SELECT FROM
/// generate_series` with the columns `enqueueVideo` writes (pending, 0
/// attempts, due now), then `ANALYZE`, so the planner knows the table as a
/// worker fleet's would be known. Every call must return a claim; a `nil`
/// fails the benchmark (``EmptyQueue``) instead of being counted.
func registerClaimNext(
    backend: String, make: @escaping @Sendable () async throws -> PostgresVideoRepository
) {
    let configuration = claimConfiguration
    for tasks in [1, 32] {
        let ops = tasks == 1 ? 500 : 1_600
        let shape = tasks == 1 ? "1task" : "\(tasks)tasks"
        let depth = (configuration.warmupIterations + configuration.maxIterations + 1) * ops
        Benchmark("\(backend)ClaimNext.\(shape).ops=\(ops)", configuration: configuration) {
            (benchmark: Benchmark, repository: PostgresVideoRepository) async in
            do {
                try await runBatch(operations: ops, tasks: tasks) { _, _ in
                    guard let claim = try await repository.claimNext(lease: VideoClaim.defaultLease) else {
                        throw EmptyQueue()
                    }
                    precondition(claim.outcome == .claimedPending)
                }
            } catch {
                benchmark.error("claimNext failed: \(error)")
            }
        } setup: {
            let repository = try await make()
            let videos = "\"\(repository.schema)\".videos"
            try await repository.executeForMeasurement(
                """
                INSERT INTO \(videos) (video_id, title, original_url, state, attempts, created_at, updated_at, not_before)
                SELECT $1::text || '-' || g, NULL, NULL, 'pending', 0,
                       statement_timestamp(), statement_timestamp(), statement_timestamp()
                FROM generate_series(1, $2::integer) AS g
                """, name: "fill the claim-next queue", ["\(runID)-\(backend)-next-\(tasks)", String(depth)])
            try await repository.executeForMeasurement("ANALYZE \(videos)", name: "analyze the videos")
            return repository
        }
    }
}

/// A repository on the bench schema, whose run() the runner keeps going once started.
func benchRepository(url: String, variable: String) -> (PostgresVideoRepository, ServiceRunner) {
    do {
        // The seed's pool (10 kept, 20 overflow, the DB_POOL_* defaults).
        return (try PostgresVideoRepository(url: url, schema: "scalekit_bench"), ServiceRunner())
    } catch {
        fatalError("\(variable): \(error)")
    }
}

let benchmarks: @Sendable () -> Void = {
    let environment = ProcessInfo.processInfo.environment
    if let url = environment["SCALEKIT_BENCH_DATABASE_URL"] {
        // One repository for all: warm after the first benchmark, run() active.
        let (repository, runner) = benchRepository(url: url, variable: "SCALEKIT_BENCH_DATABASE_URL")
        let open: @Sendable () async throws -> PostgresVideoRepository = {
            runner.start(repository)
            try await repository.migrate()
            return repository
        }
        registerClaims(backend: "postgres", opsSingle: 500, opsConcurrent: 1_600) { try await open() }
        registerClaimNext(backend: "postgres", make: open)
    }
    if let url = environment["SCALEKIT_BENCH_PGBOUNCER_URL"] {
        // The same server behind PgBouncer (pool_mode = transaction): named
        // statements would break there, so the URL must turn them off.
        guard (try? PostgresVideoRepository.statementCacheIsOff(url: url)) == true else {
            fatalError("SCALEKIT_BENCH_PGBOUNCER_URL must carry statement_cache=off")
        }
        let (repository, runner) = benchRepository(url: url, variable: "SCALEKIT_BENCH_PGBOUNCER_URL")
        let open: @Sendable () async throws -> PostgresVideoRepository = {
            runner.start(repository)
            try await repository.migrate()
            return repository
        }
        registerClaims(backend: "pgbouncer", opsSingle: 500, opsConcurrent: 1_600) { try await open() }
        registerClaimNext(backend: "pgbouncer", make: open)
    }
    // The embedded default: one file for all, in the temporary folder.
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-bench-\(runID).sqlite").path
    let sqlite = Mutex<SQLiteVideoRepository?>(nil)
    registerClaims(backend: "sqlite", opsSingle: 500, opsConcurrent: 1_600) {
        if let open = sqlite.withLock({ $0 }) { return open }
        let opened = try await SQLiteVideoRepository(path: path)
        sqlite.withLock { $0 = opened }
        return opened
    }
}
