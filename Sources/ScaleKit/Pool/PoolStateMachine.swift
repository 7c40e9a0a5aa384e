/// Every decision of ``ConnectionPool``, with no I/O, no locks and no clock.
///
/// Time is passed in as `now`, an offset from the pool's start, and timeouts
/// arrive as explicit ``expireWaiters(now:)`` calls, so tests drive every
/// path deterministically. `Waiter` is whatever the I/O layer needs to wake a
/// caller (a continuation); the machine only stores and returns it.
///
/// Slots: every connection that is idle, leased, being opened or being closed
/// holds one slot, and there are never more than `size + maxOverflow` slots,
/// so the server never sees more connections than that, not even while one
/// is being replaced. A caller that finds no idle connection and no free
/// slot waits in FIFO order; whenever a connection or slot becomes free it
/// goes to the first waiter, so a waiter exists only when nothing is free.
///
/// `pool_timeout` bounds how long the pool may go without a connection
/// coming back while someone waits, not the total wait of each caller: a
/// waiter fails with `poolExhausted` only once its own deadline has passed
/// *and* no connection was returned for `pool_timeout`. A pool that keeps
/// serving its queue in order gets slower under load, never fails it; a pool
/// whose every connection is stuck (a leak, a hung query) still fails its
/// waiters after `pool_timeout`. This matters when the process itself
/// stalls (a busy CPU, a blocked executor): connections freed during the
/// stall and the timer that would expire their waiters become runnable at
/// the same moment, and a timer that ran first would fail callers the pool
/// was about to serve.
struct PoolStateMachine<Connection, Waiter> {
    /// What ``checkout(now:waiter:)`` decided.
    enum CheckoutAction {
        /// Use this connection (after its check).
        case lease(PoolLease<Connection>)
        /// A slot is reserved for the caller: open a connection.
        case create
        /// Nothing is free and no waiter was given: call again with one.
        case mustWait
        /// The waiter was queued; it is resumed by a later action.
        case enqueued
        /// Fail the checkout with this error.
        case fail(ScaleKitError)
    }

    /// Side effects the I/O layer performs after an event, outside the lock.
    struct Action {
        /// Waiters to wake, in order, with a grant or an error.
        var resume: [(waiter: Waiter, result: Result<PoolGrant<Connection>, ScaleKitError>)] = []
        /// Connections to close; report each with ``connectionClosed()`` once `close()` returns.
        var close: [Connection] = []
        /// The pool is shutting down and every slot is free: shutdown has finished.
        var drained = false

        static var none: Action { Action() }
    }

    private enum Phase { case running, shuttingDown }

    fileprivate struct ConnectionInfo {
        var id: Int
        var createdAt: Duration
        /// `nil` when recycling is off.
        var recycleAt: Duration?
    }

    fileprivate struct IdleConnection {
        var info: ConnectionInfo
        var connection: Connection
        var idleSince: Duration
    }

    fileprivate struct QueuedWaiter {
        var id: Int
        var deadline: Duration
        var waiter: Waiter
    }

    let name: String
    let configuration: ConnectionPoolConfiguration

    private var phase = Phase.running
    /// Idle connections; the most recently returned is last and is handed out
    /// first (LIFO), so a busy pool reuses warm connections without pinging
    /// and the rest age out through recycle or pre-ping.
    private var idle: [IdleConnection] = []
    private var leased: [Int: ConnectionInfo] = [:]
    private var opening = 0
    private var closing = 0
    private var waiters = WaiterQueue<QueuedWaiter>()
    private var nextConnectionID = 0
    /// Connections numbered below this were opened before a connection that
    /// failed, so they are replaced at their next checkout.
    private var staleBelow = 0
    private var created = 0
    private var closed = 0
    private var timeouts = 0
    /// When a leased connection last came back (the pool's last progress).
    private var lastReturn: Duration?

    init(name: String, configuration: ConnectionPoolConfiguration) {
        self.name = name
        self.configuration = configuration
    }

    private var open: Int { idle.count + leased.count + opening + closing }

    /// A consistent snapshot of every count.
    var statistics: ConnectionPoolStatistics {
        ConnectionPoolStatistics(
            size: configuration.keptSize, checkedIn: idle.count, checkedOut: leased.count, opening: opening,
            closing: closing, waiters: waiters.count, created: created, closed: closed, timeouts: timeouts)
    }

    /// True once shutdown began.
    var isShuttingDown: Bool { phase == .shuttingDown }

    /// The earliest time at which a waiter may expire, when someone waits
    /// (see the type's note on `pool_timeout`).
    var earliestWaiterDeadline: Duration? {
        waiters.minimum(of: \.deadline).map(effectiveDeadline)
    }

    /// When the waiter `id` may expire; `nil` once it is no longer waiting.
    func deadline(ofWaiter id: Int) -> Duration? {
        waiters.first { $0.id == id }.map { effectiveDeadline($0.deadline) }
    }

    /// A waiter's own deadline, pushed back while connections keep coming back.
    private func effectiveDeadline(_ deadline: Duration) -> Duration {
        guard let lastReturn else { return deadline }
        return max(deadline, lastReturn + configuration.timeout)
    }

    /// True once shutdown began and every slot is free.
    var isDrained: Bool { phase == .shuttingDown && open == 0 }

    // MARK: - Checkout

    /// A caller wants a connection. Without a `waiter`, a caller that would
    /// have to wait gets ``CheckoutAction/mustWait``; with one, it is queued
    /// (or fails with `poolExhausted` at once when its deadline has passed).
    mutating func checkout(now: Duration, waiter: (id: Int, deadline: Duration, waiter: Waiter)? = nil)
        -> CheckoutAction
    {
        guard phase == .running else { return .fail(PoolErrors.shutDown(name)) }
        // A newcomer never overtakes a waiter (FIFO). By the invariant above,
        // nothing is free while someone waits, so this only guards it.
        if waiters.isEmpty {
            if let entry = idle.popLast() {
                leased[entry.info.id] = entry.info
                let check = self.check(entry.info, idleSince: entry.idleSince, now: now)
                return .lease(PoolLease(id: entry.info.id, connection: entry.connection, check: check))
            }
            if open < configuration.capacity {
                opening += 1
                return .create
            }
        }
        guard let waiter else { return .mustWait }
        if effectiveDeadline(waiter.deadline) <= now {
            timeouts += 1
            return .fail(PoolErrors.exhausted(name, configuration))
        }
        waiters.append(QueuedWaiter(id: waiter.id, deadline: waiter.deadline, waiter: waiter.waiter))
        return .enqueued
    }

    /// The factory returned a connection for a reserved slot: it is leased to
    /// the caller that reserved the slot. `jitter` in 0..<1 picks how much of
    /// ``ConnectionPoolConfiguration/recycleJitter`` shortens its lifetime.
    mutating func connectionCreated(_ connection: Connection, now: Duration, jitter: Double) -> PoolLease<Connection> {
        precondition(opening > 0, "connectionCreated without a reserved slot")
        opening -= 1
        created += 1
        let id = nextConnectionID
        nextConnectionID += 1
        leased[id] = ConnectionInfo(id: id, createdAt: now, recycleAt: recycleDeadline(createdAt: now, jitter: jitter))
        return PoolLease(id: id, connection: connection, check: .none)
    }

    /// The factory failed: the reserved slot is free again.
    mutating func connectionCreationFailed() -> Action {
        precondition(opening > 0, "connectionCreationFailed without a reserved slot")
        opening -= 1
        return slotFreed()
    }

    // MARK: - Return

    /// A leased connection comes back. `reusable` is false when it errored or
    /// `prepareForReuse()` refused it; `disconnected` marks every connection
    /// opened before it stale. Goes to the first waiter, back to the idle
    /// stack, or (discarded, overflow, shutting down) to be closed.
    mutating func release(id: Int, connection: Connection, reusable: Bool, disconnected: Bool, now: Duration)
        -> Action
    {
        guard let info = leased.removeValue(forKey: id) else {
            preconditionFailure("released connection \(id) is not leased")
        }
        lastReturn = max(lastReturn ?? now, now)
        if disconnected { markStale(below: id) }
        guard reusable, phase == .running else {
            closing += 1
            return Action(close: [connection])
        }
        if let next = waiters.popFirst() {
            leased[id] = info
            let lease = PoolLease(id: id, connection: connection, check: check(info, idleSince: nil, now: now))
            return Action(resume: [(next.waiter, .success(.lease(lease)))])
        }
        if idle.count >= configuration.keptSize && configuration.overflowIdleTimeout <= .zero {
            closing += 1
            return Action(close: [connection])
        }
        idle.append(IdleConnection(info: info, connection: connection, idleSince: now))
        return closeExpiredSurplus(now: now)
    }

    /// When the oldest idle connection beyond `size` will have been idle for
    /// `overflowIdleTimeout`; `nil` while no more than `size` are idle.
    var earliestSurplusExpiry: Duration? {
        guard idle.count > configuration.keptSize, let oldest = idle.first else { return nil }
        return oldest.idleSince + configuration.overflowIdleTimeout
    }

    /// Closes idle connections beyond `size` that have been idle for
    /// `overflowIdleTimeout`, oldest first (the idle stack is ordered by the
    /// time each came back, so the oldest are at its bottom).
    mutating func closeExpiredSurplus(now: Duration) -> Action {
        var expired: [Connection] = []
        while idle.count > configuration.keptSize, let oldest = idle.first, now - oldest.idleSince >= configuration.overflowIdleTimeout {
            expired.append(idle.removeFirst().connection)
        }
        guard !expired.isEmpty else { return .none }
        closing += expired.count
        return Action(close: expired)
    }

    /// A connection that an action said to close has closed: its slot is free.
    mutating func connectionClosed() -> Action {
        precondition(closing > 0, "connectionClosed without a closing connection")
        closing -= 1
        closed += 1
        return slotFreed()
    }

    // MARK: - Replacement (recycle, stale, failed ping)

    /// The caller holding lease `id` will close it and open a new connection
    /// in the same slot. `disconnected` (a failed ping) marks older ones stale.
    mutating func beginReplacing(id: Int, disconnected: Bool) {
        guard leased.removeValue(forKey: id) != nil else {
            preconditionFailure("replaced connection \(id) is not leased")
        }
        if disconnected { markStale(below: id) }
        closing += 1
    }

    /// The replaced connection has closed; the slot is now reserved for
    /// opening its successor (report with `connectionCreated` or `connectionCreationFailed`).
    mutating func replacedConnectionClosed() {
        precondition(closing > 0, "replacedConnectionClosed without a closing connection")
        closing -= 1
        closed += 1
        opening += 1
    }

    // MARK: - Waiters

    /// Fails with `poolExhausted` every waiter whose deadline is at or
    /// before `now`, unless a connection came back within `pool_timeout`.
    mutating func expireWaiters(now: Duration) -> Action {
        let cutoff = lastReturn.map { $0 + configuration.timeout } ?? .zero
        // Due: its own deadline passed and the last return is pool_timeout old.
        let expired = cutoff > now ? [] : waiters.removeAll { $0.deadline <= now }
        guard !expired.isEmpty else { return .none }
        timeouts += expired.count
        let error = PoolErrors.exhausted(name, configuration)
        return Action(resume: expired.map { ($0.waiter, .failure(error)) })
    }

    /// Removes a cancelled waiter; `nil` when it was already resumed.
    mutating func cancelWaiter(id: Int) -> Waiter? {
        waiters.removeFirst { $0.id == id }?.waiter
    }

    // MARK: - Shutdown

    /// Stops handing out connections: waiters fail with `poolShutDown`, idle
    /// connections are closed now, leased ones when they come back.
    mutating func shutdown() -> Action {
        guard phase == .running else { return Action(drained: isDrained) }
        phase = .shuttingDown
        let error = PoolErrors.shutDown(name)
        var action = Action()
        action.resume = waiters.removeAll { _ in true }.map { ($0.waiter, .failure(error)) }
        action.close = idle.map(\.connection)
        closing += idle.count
        idle.removeAll()
        action.drained = isDrained
        return action
    }

    // MARK: - Helpers

    private mutating func slotFreed() -> Action {
        if phase == .running, let next = waiters.popFirst() {
            opening += 1
            return Action(resume: [(next.waiter, .success(.create))])
        }
        return Action(drained: isDrained)
    }

    private mutating func markStale(below id: Int) {
        staleBelow = max(staleBelow, id)
    }

    private func check(_ info: ConnectionInfo, idleSince: Duration?, now: Duration) -> PoolLease<Connection>.Check {
        if info.id < staleBelow { return .stale }
        if let recycleAt = info.recycleAt, now >= recycleAt { return .recycle }
        if let idleSince, now - idleSince > configuration.prePingIdleThreshold { return .ping }
        return .none
    }

    private func recycleDeadline(createdAt: Duration, jitter: Double) -> Duration? {
        let recycle = configuration.recycle
        guard recycle > .zero else { return nil }
        let fraction = min(max(configuration.recycleJitter, 0), 1) * min(max(jitter, 0), 1)
        return createdAt + recycle - recycle * fraction
    }
}

extension PoolStateMachine.Action: Sendable where Connection: Sendable, Waiter: Sendable {}
extension PoolStateMachine.CheckoutAction: Sendable where Connection: Sendable {}
extension PoolStateMachine: Sendable where Connection: Sendable, Waiter: Sendable {}
extension PoolStateMachine.IdleConnection: Sendable where Connection: Sendable, Waiter: Sendable {}
extension PoolStateMachine.QueuedWaiter: Sendable where Connection: Sendable, Waiter: Sendable {}
