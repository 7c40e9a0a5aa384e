// Claiming videos: PostgreSQL (SCALEKIT_BENCH_DATABASE_URL, set by
// scripts/bench.sh; without it only SQLite runs) and the embedded SQLite
// default (a temporary file). New ids (every claim creates a row) and one hot
// id (every claim after the first finds it already processing), from 1 and
// from 32 tasks.

import Benchmark
import BenchmarkSupport
import Foundation
import ScaleKit
import ScaleKitPostgres
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

let benchmarks: @Sendable () -> Void = {
    if let url = ProcessInfo.processInfo.environment["SCALEKIT_BENCH_DATABASE_URL"] {
        // One repository for all: the seed's pool (10 kept, 20 overflow, the
        // DB_POOL_* defaults), warm after the first benchmark, run() active.
        let repository: PostgresVideoRepository
        do {
            repository = try PostgresVideoRepository(url: url, schema: "scalekit_bench")
        } catch {
            fatalError("SCALEKIT_BENCH_DATABASE_URL: \(error)")
        }
        let runner = ServiceRunner()
        registerClaims(backend: "postgres", opsSingle: 500, opsConcurrent: 1_600) {
            runner.start(repository)
            try await repository.migrate()
            return repository
        }
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
