import Logging
import MetricsTestKit
@testable import ScaleKit
import ScaleKitTesting
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// Graceful shutdown through ServiceLifecycle, and the metrics the pool publishes.
@Suite struct ConnectionPoolLifecycleTests {
    @Test func gracefulShutdownInAServiceGroup() async throws {
        let fixture = PoolFixture(size: 2, maxOverflow: 0)
        let pool = fixture.pool
        let gate = Gate()
        // One connection idle, one held by a task.
        try await pool.withConnection { _ in try await pool.withConnection { _ in } }
        let holder = Task { try await pool.withConnection { _ in await gate.wait() } }
        await eventually("the holder") { fixture.statistics.checkedOut == 1 }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 2, checkedIn: 1, checkedOut: 1, created: 2))

        let group = ServiceGroup(services: [pool], logger: PoolFixture.quietLogger)
        let running = Task { try await group.run() }
        await group.triggerGracefulShutdown()

        // Idle connections close at once; the held one stays in use.
        await eventually("the idle connection closed") { fixture.statistics.closed == 1 }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 2, checkedOut: 1, created: 2, closed: 1))
        let refused = await #expect(throws: ScaleKitError.self) { try await pool.withConnection { _ in } }
        #expect(refused?.code == .poolShutDown)
        #expect(refused?.message.contains("test.pool") == true)

        // The held connection is closed when it comes back, and run() returns.
        gate.open()
        try await holder.value
        try await running.value
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 2, created: 2, closed: 2))
        #expect(fixture.factory.open == 0)
    }

    @Test func shutdownFailsWaitersAtOnce() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let pool = fixture.pool
        let gate = Gate()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await pool.run() }
                await fixture.hold(until: gate, in: &group)
                let waiter = Task { try await pool.withConnection { _ in } }
                await eventually("a waiter") { fixture.statistics.waiters == 1 }
                trigger.triggerGracefulShutdown()
                let error = await #expect(throws: ScaleKitError.self) { try await waiter.value }
                #expect(error?.code == .poolShutDown)
                #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1))
                gate.open()
                try await group.waitForAll()
            }
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, created: 1, closed: 1))
    }

    @Test func runningPoolExpiresWaitersWithOneSharedTimer() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0, timeout: .seconds(30))
        let pool = fixture.pool
        let gate = Gate()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await pool.run() }
                await eventually("the timer loop") { pool.core.timerLoopRunning }
                await fixture.hold(until: gate, in: &group)
                let first = Task { try await pool.withConnection { _ in } }
                await eventually("first waiter") { fixture.statistics.waiters == 1 }
                fixture.clock.advance(by: .seconds(10))
                let second = Task { try await pool.withConnection { _ in } }
                await eventually("second waiter") { fixture.statistics.waiters == 2 }
                // Only the pool's loop sleeps, until the first deadline.
                await eventually("one sleeper") { fixture.clock.sleeperCount == 1 }
                fixture.clock.advance(by: .seconds(20))
                let firstError = await #expect(throws: ScaleKitError.self) { try await first.value }
                #expect(firstError?.code == .poolExhausted)
                #expect(fixture.statistics.waiters == 1 && fixture.statistics.timeouts == 1)
                await eventually("the loop sleeping until the second deadline") { fixture.clock.sleeperCount == 1 }
                fixture.clock.advance(by: .seconds(9))
                #expect(fixture.statistics.waiters == 1)
                fixture.clock.advance(by: .seconds(1))
                await #expect(throws: ScaleKitError.self) { try await second.value }
                #expect(
                    fixture.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1, timeouts: 2))
                // A served waiter leaves no timer behind.
                let third = Task { try await pool.withConnection { _ in } }
                await eventually("third waiter") { fixture.statistics.waiters == 1 }
                gate.open()
                try await third.value
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(pool.core.timerLoopRunning == false)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, created: 1, closed: 1, timeouts: 2))
        #expect(fixture.clock.sleeperCount == 0)
    }

    @Test func shutdownOfAnUnusedPoolReturnsAtOnce() async throws {
        let fixture = PoolFixture()
        await fixture.pool.shutdown()
        await fixture.pool.shutdown()
        await #expect(throws: ScaleKitError.self) { try await fixture.pool.withConnection { _ in } }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 2))
    }

    @Test func cancelledShutdownStopsWaitingButStillClosesReturnedConnections() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let gate = Gate()
        let holder = Task { try await fixture.pool.withConnection { _ in await gate.wait() } }
        await eventually("the holder") { fixture.statistics.checkedOut == 1 }
        let waiter = Task { try await fixture.pool.withConnection { _ in } }
        await eventually("a waiter") { fixture.statistics.waiters == 1 }
        let shutdown = Task { await fixture.pool.shutdown() }
        // The waiter fails once shutdown has begun.
        await #expect(throws: ScaleKitError.self) { try await waiter.value }
        shutdown.cancel()
        await shutdown.value
        #expect(fixture.statistics.checkedOut == 1)
        gate.open()
        try await holder.value
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, created: 1, closed: 1))
    }

    @Test func metricsFollowTheStatistics() async throws {
        let metrics = TestMetrics()
        let fixture = PoolFixture(size: 1, maxOverflow: 1, timeout: .seconds(5), metrics: metrics)
        let pool = fixture.pool
        func gauge(_ name: String) throws -> Double? { try metrics.expectGauge("test.pool.pool.\(name)").lastValue }
        func counter(_ name: String) throws -> Int64 { try metrics.expectCounter("test.pool.pool.\(name)").totalValue }

        #expect(try gauge("size") == 1)
        #expect(try gauge("open") == 0)
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gate, in: &group)
            await fixture.hold(until: gate, in: &group)
            #expect(try gauge("checked_out") == 2)
            #expect(try gauge("overflow") == 1)
            #expect(try gauge("open") == 2)
            let waiter = Task { try await pool.withConnection { _ in } }
            await eventually("a waiter") { fixture.statistics.waiters == 1 }
            #expect(try gauge("waiters") == 1)
            fixture.clock.advance(by: .seconds(5))
            await #expect(throws: ScaleKitError.self) { try await waiter.value }
            #expect(try gauge("waiters") == 0)
            #expect(try counter("timeouts") == 1)
            gate.open()
            try await group.waitForAll()
        }
        #expect(try gauge("checked_out") == 0)
        #expect(try gauge("checked_in") == 1)
        #expect(try gauge("overflow") == 0)
        #expect(try gauge("open") == 1)
        #expect(try counter("created") == 2)
        #expect(try counter("closed") == 1)
    }
}
