import Foundation
import Logging
import Metrics
@testable import ScaleKit
import Testing

/// Rough throughput figures for Docs/Pool.md, skipped unless
/// `SCALEKIT_POOL_THROUGHPUT=1` is set; run them in release mode:
///
///     SCALEKIT_POOL_THROUGHPUT=1 swift test -c release -Xswiftc -enable-testing --filter PoolThroughput
///
/// They assert nothing about time; they print nanoseconds per checkout+return.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SCALEKIT_POOL_THROUGHPUT"] != nil))
struct PoolThroughputTests {
    /// A connection whose every operation is free, so only the pool is measured.
    final class NoopConnection: PooledConnection {
        func ping() async throws {}
        func prepareForReuse() async -> Bool { true }
        func close() async {}
    }

    static func pool(size: Int) -> ConnectionPool<NoopConnection> {
        ConnectionPool(
            configuration: ConnectionPoolConfiguration(size: size, maxOverflow: 0),
            name: "throughput", logger: PoolFixture.quietLogger, metricsFactory: NOOPMetricsHandler.instance,
            factory: { NoopConnection() })
    }

    static func report(_ what: String, operations: Int, elapsed: Duration) {
        let nanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        let perOperation = nanos / Double(operations)
        print(
            "\(what): \(operations) checkouts in \(String(format: "%.3f", nanos / 1e9)) s = "
                + "\(String(format: "%.0f", perOperation)) ns each, \(String(format: "%.0f", 1e9 / perOperation)) per second")
    }

    @Test func uncontendedCheckoutAndReturn() async throws {
        let pool = Self.pool(size: 8)
        for _ in 0..<10_000 { try await pool.withConnection { _ in } }
        let operations = 1_000_000
        let elapsed = try await ContinuousClock().measure {
            for _ in 0..<operations { try await pool.withConnection { _ in } }
        }
        Self.report("uncontended, 1 task", operations: operations, elapsed: elapsed)
        #expect(pool.statistics().created == 1)
    }

    /// 64 tasks each check out 10 000 times from 8 connections, holding each
    /// across one suspension (Task.yield) so that 56 tasks are always waiting.
    /// `running`: with ``ConnectionPool/run()`` active (one shared timer) or not
    /// (one timer per waiting caller).
    @Test(arguments: [true, false])
    func sixtyFourTasksOverEightConnections(running: Bool) async throws {
        let pool = Self.pool(size: 8)
        let service = running ? Task { try await pool.run() } : nil
        if running { while !pool.core.timerLoopRunning { await Task.yield() } }
        let tasks = 64
        let perTask = 10_000
        let elapsed = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<perTask { try await pool.withConnection { _ in await Task.yield() } }
                    }
                }
                try await group.waitForAll()
            }
        }
        Self.report(
            "64 tasks over 8 connections, \(running ? "run() active" : "no run()")", operations: tasks * perTask,
            elapsed: elapsed)
        let statistics = pool.statistics()
        #expect(statistics.created <= 8 && statistics.timeouts == 0)
        service?.cancel()
        try await service?.value
    }

    /// The same load with the body doing nothing, to show the pool's own cost
    /// when tasks hold connections only briefly.
    @Test func sixtyFourTasksOverEightConnectionsEmptyBody() async throws {
        let pool = Self.pool(size: 8)
        let service = Task { try await pool.run() }
        while !pool.core.timerLoopRunning { await Task.yield() }
        let elapsed = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 {
                    group.addTask { for _ in 0..<10_000 { try await pool.withConnection { _ in } } }
                }
                try await group.waitForAll()
            }
        }
        Self.report("64 tasks over 8 connections, empty body, run() active", operations: 640_000, elapsed: elapsed)
        service.cancel()
        try await service.value
    }
}
