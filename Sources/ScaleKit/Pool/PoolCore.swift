import Logging
import Metrics
import Synchronization

/// The working part of ``ConnectionPool``: the state machine under a
/// `Mutex`, and the I/O its actions call for.
///
/// Not generic: connections are held as `any PooledConnection`, so all of
/// this code is compiled (and specialized) once inside ScaleKit instead of
/// running as unspecialized generic code in the backends' modules, where
/// generic metadata look-ups dominated the cost of a checkout.
final class PoolCore: Sendable {
    typealias Connection = any PooledConnection
    typealias Waiter = CheckedContinuation<PoolGrant<Connection>, any Error>
    typealias Machine = PoolStateMachine<Connection, Waiter>

    private struct LockedState: Sendable {
        var machine: Machine
        /// The statistics last written to the metrics, to record only changes.
        var recorded: ConnectionPoolStatistics
        /// Callers of `shutdown()` waiting until every connection is closed.
        var drainWaiters: [(ticket: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// True while ``runTimers()`` expires waiters for the whole pool; it
        /// stays true until shutdown begins, so a waiter that sees it needs
        /// no timer of its own.
        var timerLoopRunning = false
        /// The timer loop, parked while nobody waits.
        var idleTimerLoop: CheckedContinuation<Void, Never>?
        /// When the timer loop's current sleep ends; `nil` while it is parked.
        /// A sleep until an idle overflow connection's grace ends is not
        /// interrupted by a new waiter, so a waiter due before it keeps a
        /// timer of its own.
        var timerLoopWakesAt: Duration?
    }

    let configuration: ConnectionPoolConfiguration
    let name: String
    private let logger: Logger
    private let factory: @Sendable () async throws -> Connection
    private let clock: PoolClock
    private let metrics: PoolMetrics
    private let state: SanitizerVisibleMutex<LockedState>
    /// Numbers waiters and drain waiters so cancellation can find them.
    private let tickets = Atomic<Int>(0)

    init(
        configuration: ConnectionPoolConfiguration, name: String, logger: Logger, clock: PoolClock,
        metricsFactory: any MetricsFactory, factory: @escaping @Sendable () async throws -> Connection
    ) {
        self.configuration = configuration
        self.name = name
        self.logger = logger
        self.factory = factory
        self.clock = clock
        self.metrics = PoolMetrics(prefix: name, factory: metricsFactory)
        let machine = Machine(name: name, configuration: configuration)
        let initial = machine.statistics
        self.state = SanitizerVisibleMutex(LockedState(machine: machine, recorded: initial))
        metrics.recordAll(initial)
        logger.info(
            "connection pool configured",
            metadata: [
                "pool": "\(name)", "pool_size": "\(configuration.keptSize)",
                "max_overflow": "\(max(0, configuration.maxOverflow))",
                "timeout": "\(PoolErrors.formatSeconds(configuration.timeout))",
                "recycle": "\(PoolErrors.formatSeconds(configuration.recycle))",
            ])
    }

    /// A consistent snapshot of the pool's counts (one lock acquisition).
    func statistics() -> ConnectionPoolStatistics {
        withState { $0.machine.statistics }
    }

    /// See ``ConnectionPool/shutdown()``.
    func shutdown() async {
        let (action, timerLoop) = mutateLocked { locked in
            let action = locked.machine.shutdown()
            defer { locked.idleTimerLoop = nil }
            return (action, locked.idleTimerLoop)
        }
        timerLoop?.resume()
        if !action.drained || !action.close.isEmpty {
            logger.info("connection pool shutting down", metadata: ["pool": "\(name)"])
        }
        await perform(action)
        await waitUntilDrained()
    }

    // MARK: - Checkout

    /// Leases a connection: idle, newly opened, or handed over after a wait.
    func checkout(isolation: isolated (any Actor)? = #isolation) async throws -> PoolLease<Connection> {
        let arrival = clock.now()
        let grant: PoolGrant<Connection>
        let (action, sharedTimer) = mutateLocked { locked in
            let wakesInTime = locked.timerLoopWakesAt.map { $0 <= arrival + configuration.timeout } ?? true
            return (locked.machine.checkout(now: arrival), locked.timerLoopRunning && wakesInTime)
        }
        switch action {
        case .lease(let lease):
            if lease.check == .none { return lease }
            grant = .lease(lease)
        case .create: grant = .create
        case .fail(let error): throw error
        case .mustWait, .enqueued:
            grant = try await wait(arrival: arrival, sharedTimer: sharedTimer)
        }
        return try await fulfil(grant)
    }

    /// The slow path of a checkout, in a span of its own (`pool.checkout.wait`)
    /// so a trace shows time spent queueing for a connection; the fast path
    /// starts no span.
    private func wait(
        arrival: Duration, sharedTimer: Bool, isolation: isolated (any Actor)? = #isolation
    ) async throws -> PoolGrant<Connection> {
        try await ScaleKitSpan.run("pool.checkout.wait", kind: .internal) { span in
            span.set(ScaleKitSpan.poolName, name)
            let deadline = arrival + configuration.timeout
            if sharedTimer {
                return try await enqueue(ticket: tickets.add(1, ordering: .relaxed).newValue, deadline: deadline)
            }
            return try await waitForGrant(deadline: deadline)
        }
    }

    /// Queues the caller until a connection or slot is handed to it, its
    /// deadline passes, the pool shuts down or the task is cancelled.
    ///
    /// Used when the pool is not run as a Service: a child task sleeps on
    /// the clock until the deadline and then expires due waiters; it is
    /// cancelled as soon as the caller is resumed. (With ``runTimers()``
    /// running, callers skip this and just ``enqueue(ticket:deadline:)``.)
    private func waitForGrant(
        deadline: Duration, isolation: isolated (any Actor)? = #isolation
    ) async throws -> PoolGrant<Connection> {
        let ticket = tickets.add(1, ordering: .relaxed).newValue
        let outcome = await withTaskGroup(of: Void.self, returning: Result<PoolGrant<Connection>, any Error>.self) {
            group in
            group.addTask { await self.expireWaiter(ticket: ticket, from: deadline) }
            let outcome: Result<PoolGrant<Connection>, any Error>
            do {
                outcome = .success(try await enqueue(ticket: ticket, deadline: deadline))
            } catch {
                outcome = .failure(error)
            }
            group.cancelAll()
            return outcome
        }
        return try outcome.get()
    }

    private func enqueue(
        ticket: Int, deadline: Duration, isolation: isolated (any Actor)? = #isolation
    ) async throws -> PoolGrant<Connection> {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let now = clock.now()
                // Checked under the lock: a cancellation handler that ran
                // before this point found nothing to remove, so it is caught here.
                let (action, timerLoop) = mutateLocked { locked -> (Machine.CheckoutAction?, CheckedContinuation<Void, Never>?) in
                    if Task.isCancelled { return (nil, nil) }
                    let action = locked.machine.checkout(now: now, waiter: (ticket, deadline, continuation))
                    // A parked timer loop must now watch this waiter's deadline.
                    defer { locked.idleTimerLoop = nil }
                    return (action, locked.idleTimerLoop)
                }
                timerLoop?.resume()
                switch action {
                case nil: continuation.resume(throwing: PoolErrors.cancelled(name))
                case .lease(let lease): continuation.resume(returning: .lease(lease))
                case .create: continuation.resume(returning: .create)
                case .fail(let error): continuation.resume(throwing: error)
                case .enqueued: break
                case .mustWait: preconditionFailure("checkout with a waiter never answers mustWait")
                }
            }
        } onCancel: {
            if let waiter = mutate({ $0.cancelWaiter(id: ticket) }) {
                waiter.resume(throwing: PoolErrors.cancelled(name))
            }
        }
    }

    /// The timer of one waiter: sleeps until its deadline and expires it if
    /// no connection came back meanwhile. Kept small (one sleep): it runs for
    /// every waiting checkout, and the rare later deadlines go to a loop of
    /// their own, so the common path's task frame stays as it was.
    private func expireWaiter(ticket: Int, from deadline: Duration) async {
        do {
            try await clock.sleep(until: deadline)
        } catch {
            return  // The waiter was served; nothing to expire.
        }
        await expireWaiters(reached: deadline)
        if !Task.isCancelled { await keepExpiring(ticket: ticket) }
    }

    /// The waiter outlived its own deadline because connections kept coming
    /// back: sleeps until each later deadline, until it is served or fails.
    private func keepExpiring(ticket: Int) async {
        while !Task.isCancelled {
            // Not queued yet (the process stalled between arrival and enqueue): look again later.
            let deadline = withState { $0.machine.deadline(ofWaiter: ticket) } ?? (clock.now() + configuration.timeout)
            do {
                try await clock.sleep(until: deadline)
            } catch {
                return
            }
            await expireWaiters(reached: deadline)
        }
    }

    /// Fails the waiters whose deadline has passed, now that the clock reached `deadline`.
    private func expireWaiters(reached deadline: Duration) async {
        // After a stall of this process the timer and the returns of the
        // connections freed meanwhile are runnable together: let the returns
        // that are already queued go first, so they count as progress.
        await Task.yield()
        // The clock reached the deadline; never judge by an earlier reading.
        let now = max(clock.now(), deadline)
        let action = mutate { $0.expireWaiters(now: now) }
        if !action.resume.isEmpty {
            logger.warning(
                "connection pool exhausted",
                metadata: ["pool": "\(name)", "timed_out": "\(action.resume.count)"])
        }
        await perform(action)
    }

    /// Turns a grant into a usable connection: pings, recycles or opens one.
    private func fulfil(
        _ grant: PoolGrant<Connection>, isolation: isolated (any Actor)? = #isolation
    ) async throws -> PoolLease<Connection> {
        guard case .lease(let lease) = grant else { return try await openConnection() }
        switch lease.check {
        case .none:
            return lease
        case .ping:
            do {
                try await lease.connection.ping()
                return lease
            } catch {
                logger.info(
                    "pre-ping failed; replacing the connection and every older one",
                    metadata: ["pool": "\(name)", "error": "\(error)"])
                return try await replace(lease, disconnected: true)
            }
        case .recycle, .stale:
            logger.debug(
                "replacing connection at checkout",
                metadata: ["pool": "\(name)", "reason": "\(lease.check)"])
            return try await replace(lease, disconnected: false)
        }
    }

    /// Closes the leased connection and opens its successor in the same slot.
    private func replace(
        _ lease: PoolLease<Connection>, disconnected: Bool, isolation: isolated (any Actor)? = #isolation
    ) async throws -> PoolLease<Connection> {
        mutate { $0.beginReplacing(id: lease.id, disconnected: disconnected) }
        await lease.connection.close()
        mutate { $0.replacedConnectionClosed() }
        return try await openConnection()
    }

    /// Opens a connection in a slot already reserved for the caller; on
    /// failure frees the slot and throws at once.
    private func openConnection(isolation: isolated (any Actor)? = #isolation) async throws -> PoolLease<Connection> {
        let connection: Connection
        do {
            connection = try await factory()
        } catch {
            await perform(mutate { $0.connectionCreationFailed() })
            let failure = PoolErrors.connectFailed(name, error)
            logger.warning("connection pool could not open a connection", metadata: ["pool": "\(name)", "error": "\(failure)"])
            throw failure
        }
        let now = clock.now()
        let jitter = Double.random(in: 0..<1)
        return mutate { $0.connectionCreated(connection, now: now, jitter: jitter) }
    }

    // MARK: - Return

    /// Takes a lease back; `error` is what the caller's body threw, if anything.
    func checkin(
        _ lease: PoolLease<Connection>, after error: (any Error)?, isolation: isolated (any Actor)? = #isolation
    ) async {
        // The connection decides whether it can serve again: only it knows
        // whether an error left its protocol state unknown (a timed-out read)
        // or was a clean answer from a healthy server (statement_timeout,
        // a constraint violation). The pool never guesses from error codes.
        let reusable = await lease.connection.prepareForReuse()
        // A connection that broke because its server went away (restart,
        // failover) hints that the ones opened before it are gone too.
        let disconnected = !reusable && (error as? ScaleKitError)?.code == .connectionFailed
        let now = clock.now()
        let (action, timerLoop) = mutateLocked { locked -> (Machine.Action, CheckedContinuation<Void, Never>?) in
            let action = locked.machine.release(
                id: lease.id, connection: lease.connection, reusable: reusable, disconnected: disconnected, now: now)
            // A parked timer loop must now close the surplus idle connections when their grace ends.
            guard locked.machine.earliestSurplusExpiry != nil else { return (action, nil) }
            defer { locked.idleTimerLoop = nil }
            return (action, locked.idleTimerLoop)
        }
        timerLoop?.resume()
        await perform(action)
    }

    // MARK: - Effects

    /// Runs an action's effects outside the lock: wakes waiters, closes
    /// connections (reporting each close, which may wake further waiters),
    /// and finishes shutdown when the pool has drained.
    private func perform(_ action: Machine.Action, isolation: isolated (any Actor)? = #isolation) async {
        for (waiter, result) in action.resume {
            switch result {
            case .success(let grant): waiter.resume(returning: grant)
            case .failure(let error): waiter.resume(throwing: error)
            }
        }
        if action.drained { resumeDrainWaiters() }
        switch action.close.count {
        case 0:
            break
        case 1:
            await close(action.close[0])
        default:
            await withDiscardingTaskGroup { group in
                for connection in action.close {
                    group.addTask { await self.close(connection) }
                }
            }
        }
    }

    private func close(_ connection: Connection) async {
        await connection.close()
        await perform(mutate { $0.connectionClosed() })
    }

    // MARK: - Shared timer

    /// Expires waiters for the whole pool until shutdown begins: one sleep
    /// until the earliest deadline at a time, instead of one timer per
    /// waiter. It also closes idle connections beyond `size` when their
    /// `overflowIdleTimeout` ends (without it they are closed at the next return). Runs inside ``ConnectionPool/run()``; returns when shutdown
    /// begins or the task is cancelled.
    func runTimers() async {
        enum Next { case stop, sleep(until: Duration), park }
        while true {
            let next = withState { locked -> Next in
                if locked.machine.isShuttingDown || Task.isCancelled {
                    locked.timerLoopRunning = false
                    return .stop
                }
                locked.timerLoopRunning = true
                let deadlines = [locked.machine.earliestWaiterDeadline, locked.machine.earliestSurplusExpiry].compactMap { $0 }
                locked.timerLoopWakesAt = deadlines.min()
                return deadlines.min().map { .sleep(until: $0) } ?? .park
            }
            switch next {
            case .stop:
                return
            case .sleep(let deadline):
                do {
                    try await clock.sleep(until: deadline)
                } catch {
                    continue  // Cancelled: the next pass stops.
                }
                await expireWaiters(reached: deadline)
                let now = max(clock.now(), deadline)
                await perform(mutate { $0.closeExpiredSurplus(now: now) })
            case .park:
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let wakeNow = withState { locked -> Bool in
                            let wake =
                                locked.machine.earliestWaiterDeadline != nil || locked.machine.earliestSurplusExpiry != nil
                                || locked.machine.isShuttingDown || Task.isCancelled
                            if !wake { locked.idleTimerLoop = continuation }
                            return wake
                        }
                        if wakeNow { continuation.resume() }
                    }
                } onCancel: {
                    let parked = withState { locked in
                        defer { locked.idleTimerLoop = nil }
                        return locked.idleTimerLoop
                    }
                    parked?.resume()
                }
            }
        }
    }

    /// Whether ``runTimers()`` currently covers every waiter (for tests).
    var timerLoopRunning: Bool { withState { $0.timerLoopRunning } }

    // MARK: - Shutdown

    private func waitUntilDrained(isolation: isolated (any Actor)? = #isolation) async {
        let ticket = tickets.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = withState { locked -> Bool in
                    if locked.machine.isDrained || Task.isCancelled { return true }
                    locked.drainWaiters.append((ticket, continuation))
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let waiter = withState { locked -> CheckedContinuation<Void, Never>? in
                guard let index = locked.drainWaiters.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return locked.drainWaiters.remove(at: index).continuation
            }
            waiter?.resume()
        }
    }

    private func resumeDrainWaiters() {
        let waiters = withState { locked in
            let waiters = locked.drainWaiters
            locked.drainWaiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume() }
        logger.info("connection pool shut down", metadata: ["pool": "\(name)"])
    }

    // MARK: - Lock

    /// Runs `body` with the locked state.
    private func withState<T: Sendable>(_ body: (inout LockedState) -> T) -> T {
        state.withLock { body(&$0) }
    }

    /// Runs one state-machine event under the lock and records the metrics
    /// that changed, so gauges follow the exact sequence of states.
    private func mutate<T: Sendable>(_ event: (inout Machine) -> T) -> T {
        mutateLocked { event(&$0.machine) }
    }

    /// ``mutate(_:)`` with access to the rest of the locked state.
    private func mutateLocked<T: Sendable>(_ event: (inout LockedState) -> T) -> T {
        withState { locked in
            let result = event(&locked)
            let statistics = locked.machine.statistics
            if statistics != locked.recorded {
                metrics.recordChanges(from: locked.recorded, to: statistics)
                locked.recorded = statistics
            }
            return result
        }
    }
}
