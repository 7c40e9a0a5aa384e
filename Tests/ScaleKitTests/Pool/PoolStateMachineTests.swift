@testable import ScaleKit
import Testing

/// The pool's decisions, driven with explicit instants and timeout events.
/// Connections are plain strings and waiters are numbers.
@Suite struct PoolStateMachineTests {
    typealias Machine = PoolStateMachine<String, Int>

    static func machine(
        size: Int = 2, maxOverflow: Int = 1, timeout: Duration = .seconds(30), recycle: Duration = .seconds(3600),
        prePing: Duration = .seconds(1), jitter: Double = 0, overflowIdle: Duration = .zero
    ) -> Machine {
        Machine(
            name: "test",
            configuration: ConnectionPoolConfiguration(
                size: size, maxOverflow: maxOverflow, timeout: timeout, recycle: recycle,
                prePingIdleThreshold: prePing, recycleJitter: jitter, overflowIdleTimeout: overflowIdle))
    }

    /// With a grace, a connection beyond `size` stays idle until it has been
    /// idle that long; then the oldest idle one is closed, and only down to `size`.
    @Test func idleOverflowLingersForItsGraceThenTheOldestCloses() {
        var machine = Self.machine(size: 1, maxOverflow: 2, overflowIdle: .seconds(5))
        let a = Self.open(&machine, "a")
        let b = Self.open(&machine, "b")
        let c = Self.open(&machine, "c")
        #expect(machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero).close.isEmpty)
        #expect(machine.release(id: b.id, connection: "b", reusable: true, disconnected: false, now: .seconds(1)).close.isEmpty)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 2, checkedOut: 1, created: 3))
        #expect(machine.earliestSurplusExpiry == .seconds(5))
        #expect(machine.closeExpiredSurplus(now: .milliseconds(4_999)).close.isEmpty)
        // c comes back after a's grace: a, the oldest, is closed; b and c stay (b's grace is not over).
        #expect(machine.release(id: c.id, connection: "c", reusable: true, disconnected: false, now: .seconds(5)).close == ["a"])
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 2, closing: 1, created: 3))
        _ = machine.connectionClosed()
        #expect(machine.earliestSurplusExpiry == .seconds(6))
        #expect(machine.closeExpiredSurplus(now: .seconds(60)).close == ["b"])
        _ = machine.connectionClosed()
        // Never below size: c stays however long it idles.
        #expect(machine.closeExpiredSurplus(now: .seconds(3_600)).close.isEmpty)
        #expect(machine.earliestSurplusExpiry == nil)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 3, closed: 2))
    }

    /// A burst that comes back within the grace reuses the lingering connections: nothing is reopened.
    @Test func aBurstWithinTheGraceOpensNothing() {
        var machine = Self.machine(size: 1, maxOverflow: 2, overflowIdle: .seconds(5))
        var leases = ["a", "b", "c"].map { Self.open(&machine, $0) }
        for lease in leases { _ = machine.release(id: lease.id, connection: lease.connection, reusable: true, disconnected: false, now: .zero) }
        leases = []
        for _ in 0..<3 {
            guard case .lease(let lease) = machine.checkout(now: .seconds(4)) else { Issue.record("expected an idle connection"); return }
            leases.append(lease)
        }
        #expect(Set(leases.map(\.connection)) == ["a", "b", "c"])
        #expect(machine.statistics.created == 3 && machine.statistics.closed == 0)
        #expect(machine.earliestSurplusExpiry == nil)
    }

    /// Checks out and opens a connection named `name` at `now`; returns its lease.
    static func open(_ machine: inout Machine, _ name: String, at now: Duration = .zero) -> PoolLease<String> {
        guard case .create = machine.checkout(now: now) else {
            Issue.record("expected a free slot for \(name)")
            return PoolLease(id: -1, connection: name, check: .none)
        }
        return machine.connectionCreated(name, now: now, jitter: 0)
    }

    @Test func opensUpToSizePlusOverflowThenAsksToWait() {
        var machine = Self.machine(size: 2, maxOverflow: 1)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 2))
        guard case .create = machine.checkout(now: .zero) else { Issue.record("expected create"); return }
        #expect(machine.statistics == ConnectionPoolStatistics(size: 2, opening: 1))
        _ = machine.connectionCreated("a", now: .zero, jitter: 0)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 2, checkedOut: 1, created: 1))
        _ = Self.open(&machine, "b")
        _ = Self.open(&machine, "c")
        #expect(machine.statistics == ConnectionPoolStatistics(size: 2, checkedOut: 3, created: 3))
        #expect(machine.statistics.overflow == 1)
        guard case .mustWait = machine.checkout(now: .zero) else { Issue.record("expected mustWait"); return }
        #expect(machine.statistics.waiters == 0)
    }

    @Test func returnedConnectionIsClosedWhenSizeAreIdle() {
        var machine = Self.machine(size: 1, maxOverflow: 1)
        let a = Self.open(&machine, "a")
        let b = Self.open(&machine, "b")
        var action = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        #expect(action.close.isEmpty)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, checkedOut: 1, created: 2))
        action = machine.release(id: b.id, connection: "b", reusable: true, disconnected: false, now: .zero)
        #expect(action.close == ["b"])
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, closing: 1, created: 2))
        #expect(machine.statistics.overflow == 1)
        action = machine.connectionClosed()
        #expect(action.resume.isEmpty && !action.drained)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedIn: 1, created: 2, closed: 1))
        #expect(machine.statistics.overflow == 0)
    }

    @Test func waiterTimesOutAtItsDeadlineWithTheSettingsInTheMessage() throws {
        var machine = Self.machine(size: 1, maxOverflow: 0, timeout: .seconds(30))
        _ = Self.open(&machine, "a")
        guard case .enqueued = machine.checkout(now: .seconds(5), waiter: (1, .seconds(35), 1)) else {
            Issue.record("expected enqueued")
            return
        }
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, waiters: 1, created: 1))
        #expect(machine.expireWaiters(now: .milliseconds(34_999)).resume.isEmpty)
        let action = machine.expireWaiters(now: .seconds(35))
        #expect(action.resume.count == 1)
        let error = try #require(action.resume.first.flatMap { entry -> ScaleKitError? in
            if case .failure(let error) = entry.result { return error } else { return nil }
        })
        #expect(error.code == .poolExhausted)
        #expect(error.message.contains("pool_timeout=30s"))
        #expect(error.message.contains("pool_size=1"))
        #expect(error.message.contains("max_overflow=0"))
        #expect(error.message.contains("'test'"))
        #expect(
            machine.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1, timeouts: 1))
    }

    /// The cause of a Redis pool that "exhausted" under a busy test run: the
    /// process stalled (its cooperative threads blocked) for longer than
    /// pool_timeout while 100 callers shared 30 connections. The connections
    /// freed during the stall and the waiters' timer became runnable at once;
    /// a timer that judged by each waiter's own deadline failed callers the
    /// pool was serving in order. Now a waiter fails only when no connection
    /// came back for pool_timeout.
    @Test func stallLongerThanTheTimeoutFailsNoWaiterWhileConnectionsComeBack() {
        var machine = Self.machine(size: 2, maxOverflow: 1, timeout: .seconds(5))
        let leases = (0..<3).map { Self.open(&machine, "c\($0)") }
        for waiter in 0..<7 { _ = machine.checkout(now: .zero, waiter: (waiter, .seconds(5), waiter)) }
        // Six seconds pass with nothing running; then the three holders return.
        var served: [PoolLease<String>] = []
        for lease in leases {
            let action = machine.release(id: lease.id, connection: lease.connection, reusable: true, disconnected: false, now: .seconds(6))
            for (_, result) in action.resume { if case .success(.lease(let next)) = result { served.append(next) } }
        }
        #expect(served.count == 3)
        #expect(machine.expireWaiters(now: .seconds(6)).resume.isEmpty)
        #expect(machine.earliestWaiterDeadline == .seconds(11))
        // The queue keeps moving: every waiter is served, none fails, long after its own deadline.
        var now = Duration.seconds(6)
        while let lease = served.popLast() {
            now += .seconds(4)
            #expect(machine.expireWaiters(now: now).resume.isEmpty)
            let action = machine.release(id: lease.id, connection: lease.connection, reusable: true, disconnected: false, now: now)
            for (_, result) in action.resume { if case .success(.lease(let next)) = result { served.insert(next, at: 0) } }
        }
        #expect(machine.statistics.timeouts == 0)
        #expect(machine.statistics.waiters == 0)
    }

    /// Stuck connections still fail waiters: pool_timeout after the last return.
    @Test func waitersFailOnceNoConnectionCameBackForTheTimeout() throws {
        var machine = Self.machine(size: 1, maxOverflow: 0, timeout: .seconds(5))
        let a = Self.open(&machine, "a")
        _ = machine.checkout(now: .zero, waiter: (1, .seconds(5), 1))
        _ = machine.checkout(now: .zero, waiter: (2, .seconds(5), 2))
        let first = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(4))
        #expect(first.resume.count == 1)
        #expect(machine.deadline(ofWaiter: 2) == .seconds(9))
        #expect(machine.deadline(ofWaiter: 1) == nil)
        #expect(machine.expireWaiters(now: .milliseconds(8_999)).resume.isEmpty)
        let expired = machine.expireWaiters(now: .seconds(9))
        #expect(expired.resume.count == 1)
        #expect(machine.statistics.timeouts == 1)
    }

    @Test func waiterWhoseDeadlineHasPassedFailsAtOnce() {
        var machine = Self.machine(size: 1, maxOverflow: 0, timeout: .zero)
        _ = Self.open(&machine, "a")
        guard case .fail(let error) = machine.checkout(now: .seconds(1), waiter: (1, .seconds(1), 1)) else {
            Issue.record("expected fail")
            return
        }
        #expect(error.code == .poolExhausted)
        #expect(error.message.contains("pool_timeout=0s"))
        #expect(machine.statistics.timeouts == 1)
        #expect(machine.statistics.waiters == 0)
    }

    @Test func waitersAreServedFirstComeFirstServed() {
        var machine = Self.machine(size: 1, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        for waiter in 1...3 {
            _ = machine.checkout(now: .zero, waiter: (waiter, .seconds(30), waiter))
        }
        // A newcomer without a waiter does not overtake the queue.
        guard case .mustWait = machine.checkout(now: .zero) else { Issue.record("expected mustWait"); return }
        var served: [Int] = []
        var id = a.id
        for _ in 1...3 {
            let action = machine.release(id: id, connection: "a", reusable: true, disconnected: false, now: .zero)
            guard let (waiter, result) = action.resume.first, case .success(.lease(let lease)) = result else {
                Issue.record("expected a hand-off")
                return
            }
            served.append(waiter)
            id = lease.id
            #expect(lease.check == PoolLease<String>.Check.none)
        }
        #expect(served == [1, 2, 3])
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1))
    }

    @Test func discardedConnectionFreesItsSlotForTheFirstWaiterAfterClosing() {
        var machine = Self.machine(size: 1, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        _ = machine.checkout(now: .zero, waiter: (7, .seconds(30), 7))
        let action = machine.release(id: a.id, connection: "a", reusable: false, disconnected: false, now: .zero)
        #expect(action.close == ["a"] && action.resume.isEmpty)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, closing: 1, waiters: 1, created: 1))
        let closed = machine.connectionClosed()
        guard let (waiter, result) = closed.resume.first, case .success(.create) = result else {
            Issue.record("expected the waiter to get a slot")
            return
        }
        #expect(waiter == 7)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, opening: 1, created: 1, closed: 1))
    }

    @Test func failedCreationFreesTheSlot() {
        var machine = Self.machine(size: 1, maxOverflow: 0)
        guard case .create = machine.checkout(now: .zero) else { Issue.record("expected create"); return }
        let action = machine.connectionCreationFailed()
        #expect(action.resume.isEmpty)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1))
        guard case .create = machine.checkout(now: .zero) else { Issue.record("expected create again"); return }
    }

    @Test func connectionsOlderThanRecycleAreReplacedAtCheckout() {
        var machine = Self.machine(size: 1, recycle: .seconds(100), prePing: .seconds(1000))
        let a = Self.open(&machine, "a")
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(1))
        guard case .lease(let early) = machine.checkout(now: .milliseconds(99_999)) else {
            Issue.record("expected lease")
            return
        }
        #expect(early.check == .none)
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(99))
        guard case .lease(let due) = machine.checkout(now: .seconds(100)) else {
            Issue.record("expected lease")
            return
        }
        #expect(due.check == .recycle)
        machine.beginReplacing(id: due.id, disconnected: false)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, closing: 1, created: 1))
        machine.replacedConnectionClosed()
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, opening: 1, created: 1, closed: 1))
        let b = machine.connectionCreated("b", now: .seconds(100), jitter: 0)
        #expect(b.id == 1 && b.check == .none)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 2, closed: 1))
    }

    @Test func jitterShortensTheLifetimeByAtMostTheConfiguredFraction() {
        var machine = Self.machine(size: 1, recycle: .seconds(100), prePing: .seconds(1000), jitter: 0.1)
        guard case .create = machine.checkout(now: .zero) else { return }
        // Half of the 10 % allowance: the connection lives 95 s.
        let a = machine.connectionCreated("a", now: .zero, jitter: 0.5)
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        guard case .lease(let before) = machine.checkout(now: .milliseconds(94_999)) else { return }
        #expect(before.check == .none)
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(94))
        guard case .lease(let due) = machine.checkout(now: .seconds(95)) else { return }
        #expect(due.check == .recycle)
    }

    @Test func recycleOfZeroNeverRecycles() {
        var machine = Self.machine(size: 1, recycle: .zero, prePing: .seconds(1_000_000))
        let a = Self.open(&machine, "a")
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        guard case .lease(let lease) = machine.checkout(now: .seconds(999_999)) else { return }
        #expect(lease.check == .none)
    }

    @Test func onlyConnectionsIdleLongerThanTheThresholdArePinged() {
        var machine = Self.machine(size: 1, prePing: .seconds(1))
        let a = Self.open(&machine, "a")
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(10))
        guard case .lease(let fresh) = machine.checkout(now: .seconds(11)) else { return }
        #expect(fresh.check == .none)  // idle exactly the threshold: not pinged
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(20))
        guard case .lease(let idle) = machine.checkout(now: .milliseconds(21_001)) else { return }
        #expect(idle.check == .ping)
    }

    @Test func disconnectMarksEveryOlderConnectionStale() {
        var machine = Self.machine(size: 4, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        let b = Self.open(&machine, "b")
        let c = Self.open(&machine, "c")
        let d = Self.open(&machine, "d")
        for lease in [a, b, d] {
            _ = machine.release(id: lease.id, connection: lease.connection, reusable: true, disconnected: false, now: .zero)
        }
        // c fails: a and b (opened before it) are stale, d (opened after) is not.
        let action = machine.release(id: c.id, connection: "c", reusable: false, disconnected: true, now: .zero)
        #expect(action.close == ["c"])
        _ = machine.connectionClosed()
        var checks: [String: PoolLease<String>.Check] = [:]
        for _ in 0..<3 {
            guard case .lease(let lease) = machine.checkout(now: .zero) else { return }
            checks[lease.connection] = lease.check
        }
        #expect(checks == ["a": .stale, "b": .stale, "d": PoolLease<String>.Check.none])
    }

    @Test func failedPingMarksOlderConnectionsStaleToo() {
        var machine = Self.machine(size: 2, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        let b = Self.open(&machine, "b")
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        machine.beginReplacing(id: b.id, disconnected: true)
        machine.replacedConnectionClosed()
        let c = machine.connectionCreated("c", now: .zero, jitter: 0)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 2, checkedIn: 1, checkedOut: 1, created: 3, closed: 1))
        _ = c
        guard case .lease(let lease) = machine.checkout(now: .zero) else { return }
        #expect(lease.connection == "a" && lease.check == .stale)
    }

    @Test func handOffToAWaiterStillChecksAge() {
        var machine = Self.machine(size: 1, maxOverflow: 0, recycle: .seconds(10))
        let a = Self.open(&machine, "a")
        _ = machine.checkout(now: .seconds(5), waiter: (1, .seconds(35), 1))
        let action = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .seconds(10))
        guard case .success(.lease(let lease)) = action.resume.first?.result else { Issue.record("no hand-off"); return }
        #expect(lease.check == .recycle)
    }

    @Test func cancelledWaiterLeavesTheQueue() {
        var machine = Self.machine(size: 1, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        _ = machine.checkout(now: .zero, waiter: (1, .seconds(30), 1))
        _ = machine.checkout(now: .zero, waiter: (2, .seconds(30), 2))
        #expect(machine.cancelWaiter(id: 1) == 1)
        #expect(machine.cancelWaiter(id: 1) == nil)
        #expect(machine.statistics.waiters == 1)
        let action = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        #expect(action.resume.first?.waiter == 2)
        #expect(machine.expireWaiters(now: .seconds(60)).resume.isEmpty)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 1, checkedOut: 1, created: 1))
    }

    @Test func shutdownFailsWaitersClosesIdleAndDrainsAsLeasesReturn() {
        var machine = Self.machine(size: 2, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        let b = Self.open(&machine, "b")
        _ = machine.checkout(now: .zero, waiter: (11, .seconds(30), 11))
        #expect(machine.statistics.waiters == 1)

        var action = machine.shutdown()
        #expect(action.resume.map(\.waiter) == [11])
        if case .failure(let error) = action.resume.first?.result {
            #expect(error.code == .poolShutDown)
        } else {
            Issue.record("waiter should fail")
        }
        #expect(action.close.isEmpty && !action.drained)
        guard case .fail(let error) = machine.checkout(now: .zero) else { Issue.record("expected fail"); return }
        #expect(error.code == .poolShutDown)

        action = machine.release(id: b.id, connection: "b", reusable: true, disconnected: false, now: .zero)
        #expect(action.close == ["b"])
        action = machine.connectionClosed()
        #expect(!action.drained)
        action = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        #expect(action.close == ["a"])
        action = machine.connectionClosed()
        #expect(action.drained && machine.isDrained)
        #expect(machine.statistics == ConnectionPoolStatistics(size: 2, created: 2, closed: 2))
    }

    @Test func shutdownClosesIdleConnectionsAtOnce() {
        var machine = Self.machine(size: 2, maxOverflow: 0)
        let a = Self.open(&machine, "a")
        _ = machine.release(id: a.id, connection: "a", reusable: true, disconnected: false, now: .zero)
        var action = machine.shutdown()
        #expect(action.close == ["a"] && !action.drained)
        action = machine.connectionClosed()
        #expect(action.drained)
        #expect(machine.shutdown().drained)
    }

    @Test func negativeSettingsStillAllowOneConnection() {
        var machine = Self.machine(size: -3, maxOverflow: -1)
        guard case .create = machine.checkout(now: .zero) else { Issue.record("expected create"); return }
        _ = machine.connectionCreated("a", now: .zero, jitter: 0)
        guard case .mustWait = machine.checkout(now: .zero) else { Issue.record("expected mustWait"); return }
        #expect(machine.statistics.size == 0)
    }

    @Test(arguments: [
        (Duration.seconds(30), "30s"), (.milliseconds(500), "0.5s"), (.milliseconds(1250), "1.25s"), (.zero, "0s"),
    ])
    func secondsAreFormattedShort(duration: Duration, text: String) {
        #expect(PoolErrors.formatSeconds(duration) == text)
    }
}
