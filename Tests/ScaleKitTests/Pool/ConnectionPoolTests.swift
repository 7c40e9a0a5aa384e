@testable import ScaleKit
import ScaleKitTesting
import Synchronization
import Testing

/// The real pool with mock connections on a manual clock: every timeout
/// fires only when a test advances the clock.
@Suite struct ConnectionPoolTests {
    @Test func reusesAnIdleConnection() async throws {
        let fixture = PoolFixture(size: 2, maxOverflow: 1)
        let first = try await fixture.pool.withConnection { $0.number }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 2, checkedIn: 1, created: 1))
        let second = try await fixture.pool.withConnection { connection in
            #expect(fixture.statistics == ConnectionPoolStatistics(size: 2, checkedOut: 1, created: 1))
            return connection.number
        }
        #expect(first == second)
        #expect(fixture.factory.connections[0].resets == 2)
        #expect(fixture.factory.connections[0].pings == 0)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 2, checkedIn: 1, created: 1))
    }

    @Test func neverOpensMoreThanSizePlusOverflowUnderLoad() async throws {
        let fixture = PoolFixture(size: 4, maxOverflow: 4)
        let pool = fixture.pool
        let served = Shared(0)
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    try await pool.withConnection { _ in
                        await gate.wait()
                        for _ in 0..<3 { await Task.yield() }
                        served.update { $0 += 1 }
                    }
                }
            }
            // Every slot taken, everyone else queued: the pool is at its limit.
            await eventually("8 leases and 192 waiters") {
                fixture.statistics == ConnectionPoolStatistics(size: 4, checkedOut: 8, waiters: 192, created: 8)
            }
            gate.open()
            try await group.waitForAll()
        }
        let statistics = fixture.statistics
        #expect(served.current == 200)
        #expect(fixture.factory.maxOpen == 8)
        // The 4 overflow connections were closed as they came back with 4 idle.
        #expect(statistics == ConnectionPoolStatistics(size: 4, checkedIn: 4, created: 8, closed: 4))
        #expect(fixture.factory.open == 4)
    }

    /// The default grace: an overflow connection stays open after it comes
    /// back, and the pool's timer closes it once the grace has passed.
    @Test func overflowConnectionLingersThenTheTimerClosesIt() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 1, overflowIdle: ConnectionPoolConfiguration().overflowIdleTimeout)
        let running = Task { try await fixture.pool.run() }
        await eventually("the timer loop runs") { fixture.pool.core.timerLoopRunning }
        let gateA = Gate()
        let gateB = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gateA, in: &group)
            await fixture.hold(until: gateB, in: &group)
            gateA.open()
            gateB.open()
            try await group.waitForAll()
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 2, created: 2))
        fixture.clock.advance(by: .seconds(4))
        #expect(fixture.statistics.open == 2)
        fixture.clock.advance(by: .seconds(1))
        await eventually("the surplus is closed") { fixture.statistics.closed == 1 }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 2, closed: 1))
        #expect(fixture.factory.open == 1)
        running.cancel()
        _ = try? await running.value
    }

    /// While the timer loop sleeps until an idle connection's grace ends, a
    /// waiter with a shorter timeout still fails at its own deadline.
    @Test func aWaiterDueBeforeTheGraceEndsExpiresOnTime() async throws {
        let fixture = PoolFixture(size: 0, maxOverflow: 1, timeout: .seconds(1), overflowIdle: .seconds(60))
        let running = Task { try await fixture.pool.run() }
        await eventually("the timer loop runs") { fixture.pool.core.timerLoopRunning }
        try await fixture.pool.withConnection { _ in }  // one idle connection beyond size 0: the loop sleeps 60 s
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gate, in: &group)
            let waiter = Task { try await fixture.pool.withConnection { _ in } }
            await eventually("a waiter") { fixture.statistics.waiters == 1 }
            fixture.clock.advance(by: .seconds(1))
            await eventually("the waiter timed out") { fixture.statistics.timeouts == 1 }
            waiter.cancel()  // when it did not time out, it must not wait for the 60 s sleep
            let outcome = await waiter.result
            var code: ScaleKitError.Code?
            if case .failure(let error as ScaleKitError) = outcome { code = error.code }
            #expect(code == .poolExhausted, "\(outcome)")
            gate.open()
            try await group.waitForAll()
        }
        running.cancel()
        _ = try? await running.value
    }

    @Test func overflowConnectionIsClosedOnReturn() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 1)
        let gateA = Gate()
        let gateB = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gateA, in: &group)
            await fixture.hold(until: gateB, in: &group)
            #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 2, created: 2))
            #expect(fixture.statistics.overflow == 1)
            gateA.open()
            await eventually("first return") { fixture.statistics.checkedOut == 1 }
            #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, checkedOut: 1, created: 2))
            gateB.open()
            try await group.waitForAll()
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 2, closed: 1))
        #expect(fixture.statistics.overflow == 0)
        #expect(fixture.factory.open == 1)
    }

    @Test func waiterGetsPoolExhaustedAfterTheTimeout() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0, timeout: .seconds(30))
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gate, in: &group)
            let waiter = Task { try await fixture.pool.withConnection { _ in } }
            await eventually("a waiter") { fixture.statistics.waiters == 1 }
            fixture.clock.advance(by: .seconds(29))
            #expect(fixture.statistics.waiters == 1)
            fixture.clock.advance(by: .seconds(1))
            let error = await #expect(throws: ScaleKitError.self) { try await waiter.value }
            #expect(error?.code == .poolExhausted)
            #expect(error?.message.contains("'test.pool'") == true)
            #expect(error?.message.contains("pool_timeout=30s") == true)
            #expect(error?.message.contains("pool_size=1") == true)
            #expect(error?.message.contains("max_overflow=0") == true)
            #expect(
                fixture.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1, timeouts: 1))
            gate.open()
            try await group.waitForAll()
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 1, timeouts: 1))
    }

    @Test func failingFactoryFailsFastWithItsOwnError() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        fixture.factory.failConnections(with: ScaleKitError(.connectionFailed, "connection refused"))
        // The manual clock never moves here: a wait would never end, so
        // finishing at all proves the checkout did not wait.
        let error = await #expect(throws: ScaleKitError.self) { try await fixture.pool.withConnection { _ in } }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message == "connection refused")
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1))

        struct Refused: Error {}
        fixture.factory.failConnections(with: Refused())
        let wrapped = await #expect(throws: ScaleKitError.self) { try await fixture.pool.withConnection { _ in } }
        #expect(wrapped?.code == .connectionFailed)
        #expect(wrapped?.underlying is Refused)

        fixture.factory.failConnections(with: nil)
        try await fixture.pool.withConnection { _ in }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 1))
    }

    @Test func failingFactoryPassesTheSlotToTheNextWaiter() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let gate = Gate()
        let holder = Task {
            try await fixture.pool.withConnection { connection in
                await gate.wait()
                connection.state.withLock { $0.reusable = false }  // as a real connection that lost its socket
                throw ScaleKitError(.connectionFailed, "server went away")
            }
        }
        await eventually("the holder") { fixture.statistics.checkedOut == 1 }
        let waiter = Task { try await fixture.pool.withConnection { $0.number } }
        await eventually("a waiter") { fixture.statistics.waiters == 1 }
        // The held connection breaks and is closed; the waiter gets its slot,
        // tries to connect and fails at once with the cause.
        fixture.factory.failConnections(with: ScaleKitError(.connectionFailed, "connection refused"))
        gate.open()
        await #expect(throws: ScaleKitError.self) { try await holder.value }
        let error = await #expect(throws: ScaleKitError.self) { try await waiter.value }
        #expect(error?.message == "connection refused")
        #expect(fixture.factory.attempts == 2)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, created: 1, closed: 1))
    }

    /// A connection used after it was closed refuses reuse and is
    /// discarded, without marking the others stale; the next caller gets a
    /// new one.
    @Test func aClosedConnectionIsDiscarded() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let error = await #expect(throws: ScaleKitError.self) {
            try await fixture.pool.withConnection { connection in
                connection.state.withLock { $0.reusable = false }  // as a real closed connection answers
                throw ScaleKitError(.connectionClosed, "used after close")
            }
        }
        #expect(error?.code == .connectionClosed)
        #expect(fixture.factory.connections[0].isClosed)
        #expect(fixture.factory.connections[0].resets == 1)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, created: 1, closed: 1))
        try await fixture.pool.withConnection { #expect($0.number == 1) }
    }

    /// A waiter outlives its own deadline while connections keep coming
    /// back, and fails pool_timeout after the last one came back.
    @Test func waiterWaitsPastItsDeadlineWhileConnectionsComeBack() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0, timeout: .seconds(30))
        let first = Gate()
        let second = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: first, in: &group)
            let served = Task { try await fixture.pool.withConnection { _ in await second.wait() } }
            await eventually("the first waiter") { fixture.statistics.waiters == 1 }
            let starved = Task { try await fixture.pool.withConnection { _ in } }
            await eventually("the second waiter") { fixture.statistics.waiters == 2 }

            fixture.clock.advance(by: .seconds(25))
            first.open()  // comes back at 25 s: the first waiter gets it
            await eventually("the first waiter served") { fixture.statistics.waiters == 1 }
            fixture.clock.advance(by: .seconds(6))  // 31 s: past the second waiter's own deadline
            await eventually("the second waiter's timer to sleep again") { fixture.clock.sleeperCount >= 1 }
            #expect(fixture.statistics.waiters == 1 && fixture.statistics.timeouts == 0)

            fixture.clock.advance(by: .seconds(24))  // 55 s: 30 s after the last return
            let error = await #expect(throws: ScaleKitError.self) { try await starved.value }
            #expect(error?.code == .poolExhausted)
            #expect(fixture.statistics.timeouts == 1)
            second.open()
            try await served.value
            try await group.waitForAll()
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 1, timeouts: 1))
    }

    @Test func connectionsOlderThanRecycleAreReplaced() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0, recycle: .seconds(60))
        try await fixture.pool.withConnection { #expect($0.number == 0) }
        fixture.clock.advance(by: .seconds(59))
        try await fixture.pool.withConnection { #expect($0.number == 0) }
        fixture.clock.advance(by: .seconds(1))
        try await fixture.pool.withConnection { connection in
            #expect(connection.number == 1)
            #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 2, closed: 1))
        }
        #expect(fixture.factory.connections[0].isClosed)
        #expect(fixture.factory.connections[0].pings == 1)  // the checkout at 59 s was idle for 59 s
        #expect(fixture.factory.maxOpen == 1)
    }

    @Test func prePingOnlyAfterIdleAndFailedPingReplacesTransparently() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0, prePing: .seconds(1))
        try await fixture.pool.withConnection { _ in }
        let first = fixture.factory.connections[0]
        fixture.clock.advance(by: .milliseconds(500))
        try await fixture.pool.withConnection { _ in }
        #expect(first.pings == 0)
        fixture.clock.advance(by: .seconds(2))
        try await fixture.pool.withConnection { #expect($0 === first) }
        #expect(first.pings == 1)

        first.state.withLock { $0.pingFails = true }
        fixture.clock.advance(by: .seconds(2))
        try await fixture.pool.withConnection { #expect($0.number == 1) }
        #expect(first.pings == 2 && first.isClosed)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 2, closed: 1))
    }

    @Test func disconnectMarksOlderConnectionsStale() async throws {
        let fixture = PoolFixture(size: 3, maxOverflow: 0)
        let gates = [Gate(), Gate(), Gate()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for gate in gates { await fixture.hold(until: gate, in: &group) }
            for gate in gates {
                let returned = fixture.statistics.checkedIn
                gate.open()
                await eventually("a return") { fixture.statistics.checkedIn == returned + 1 }
            }
            try await group.waitForAll()
        }
        // Idle stack (last returned on top): #0, #1, #2. #2 breaks in use.
        let failed = await #expect(throws: ScaleKitError.self) {
            try await fixture.pool.withConnection { connection in
                #expect(connection.number == 2)
                connection.state.withLock { $0.reusable = false }  // as a real connection that lost its socket
                throw ScaleKitError(.connectionFailed, "server closed the connection")
            }
        }
        #expect(failed?.code == .connectionFailed)
        #expect(fixture.factory.connections[2].isClosed)
        #expect(fixture.factory.connections[2].resets == 2)  // asked once more on its return, then discarded
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 3, checkedIn: 2, created: 3, closed: 1))

        // #1 and #0 were opened before #2: each is replaced at its next checkout.
        try await fixture.pool.withConnection { #expect($0.number == 3) }
        #expect(fixture.factory.connections[1].isClosed)
        try await fixture.pool.withConnection { first in
            #expect(first.number == 3)
            try await fixture.pool.withConnection { second in #expect(second.number == 4) }
        }
        #expect(fixture.factory.connections[0].isClosed)
        #expect(fixture.factory.connections[0].pings == 0)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 3, checkedIn: 2, created: 5, closed: 3))
    }

    /// Whatever the borrower threw, the connection's own answer decides: an
    /// error reply from a healthy connection (a timeout the server reported,
    /// an application error) keeps it; a connection that says it is broken is
    /// closed, and only then does a lost server mark the older ones stale.
    @Test func theConnectionDecidesWhetherItIsKept() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        struct AppError: Error {}
        await #expect(throws: AppError.self) { try await fixture.pool.withConnection { _ in throw AppError() } }
        #expect(fixture.factory.connections[0].resets == 1 && !fixture.factory.connections[0].isClosed)

        // statement_timeout: the server answered, the connection is fine.
        await #expect(throws: ScaleKitError.self) {
            try await fixture.pool.withConnection { _ in throw ScaleKitError(.timeout, "canceling statement due to statement timeout") }
        }
        #expect(fixture.factory.connections[0].resets == 2 && !fixture.factory.connections[0].isClosed)

        // A read that timed out leaves the protocol state unknown: the connection says so.
        await #expect(throws: ScaleKitError.self) {
            try await fixture.pool.withConnection { connection in
                connection.state.withLock { $0.reusable = false }
                throw ScaleKitError(.timeout, "read timed out")
            }
        }
        #expect(fixture.factory.connections[0].isClosed)

        // A connection that cannot be reset is closed, whether or not anything was thrown.
        try await fixture.pool.withConnection { $0.state.withLock { $0.reusable = false } }
        #expect(fixture.factory.connections[1].isClosed)
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, created: 2, closed: 2))
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let order = Shared<[Int]>([])
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gate, in: &group)
            for index in 1...5 {
                group.addTask {
                    try await fixture.pool.withConnection { _ in order.update { $0.append(index) } }
                }
                await eventually("waiter \(index)") { fixture.statistics.waiters == index }
            }
            gate.open()
            try await group.waitForAll()
        }
        #expect(order.current == [1, 2, 3, 4, 5])
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 1))
    }

    @Test func cancelledWaiterLeavesTheQueueWithoutLeakingASlot() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gate, in: &group)
            let waiter = Task { try await fixture.pool.withConnection { _ in } }
            await eventually("a waiter") { fixture.statistics.waiters == 1 }
            waiter.cancel()
            let error = await #expect(throws: ScaleKitError.self) { try await waiter.value }
            #expect(error?.code == .cancelled)
            #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1))
            await eventually("the timeout sleeper to stop") { fixture.clock.sleeperCount == 0 }
            gate.open()
            try await group.waitForAll()
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 1))
        try await fixture.pool.withConnection { #expect($0.number == 0) }
    }

    @Test func alreadyCancelledTaskDoesNotQueue() async throws {
        let fixture = PoolFixture(size: 1, maxOverflow: 0)
        let gate = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await fixture.hold(until: gate, in: &group)
            let waiter = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await fixture.pool.withConnection { _ in }
            }
            await #expect(throws: ScaleKitError.self) { try await waiter.value }
            #expect(fixture.statistics.waiters == 0)
            gate.open()
            try await group.waitForAll()
        }
        #expect(fixture.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 1))
    }
}
