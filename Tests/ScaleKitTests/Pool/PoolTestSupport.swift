import Logging
import Metrics
import ScaleKit
import ScaleKitTesting
import Synchronization
import Testing

/// A connection that records what the pool did with it.
final class MockConnection: PooledConnection, CustomStringConvertible {
    struct State {
        var pingFails = false
        var reusable = true
        var pings = 0
        var resets = 0
        var closes = 0
    }

    let number: Int
    /// Weak: the factory keeps every connection it made, and a strong
    /// reference back would make each pair a cycle (LeakSanitizer reports it).
    private weak let factory: MockConnectionFactory?
    let state = SanitizerVisibleMutex(State())

    init(number: Int, factory: MockConnectionFactory) {
        self.number = number
        self.factory = factory
    }

    var description: String { "mock#\(number)" }
    var pings: Int { state.withLock { $0.pings } }
    var resets: Int { state.withLock { $0.resets } }
    var isClosed: Bool { state.withLock { $0.closes > 0 } }

    func ping() async throws {
        let fails = state.withLock { state in
            state.pings += 1
            return state.pingFails
        }
        if fails { throw ScaleKitError(.connectionFailed, "mock#\(number) is gone") }
    }

    func prepareForReuse() async -> Bool {
        state.withLock { state in
            state.resets += 1
            return state.reusable
        }
    }

    func close() async {
        let first = state.withLock { state in
            state.closes += 1
            return state.closes == 1
        }
        precondition(first, "the pool closed mock#\(number) twice")
        factory?.connectionClosed()
    }
}

/// Opens mock connections, counting how many are open at once.
final class MockConnectionFactory: Sendable {
    struct State {
        var connections: [MockConnection] = []
        var open = 0
        var maxOpen = 0
        var failure: (any Error & Sendable)?
        var attempts = 0
    }

    let state = SanitizerVisibleMutex(State())

    var connections: [MockConnection] { state.withLock { $0.connections } }
    var open: Int { state.withLock { $0.open } }
    var maxOpen: Int { state.withLock { $0.maxOpen } }
    var attempts: Int { state.withLock { $0.attempts } }

    /// Makes every later connection attempt throw `error` (nil: succeed again).
    func failConnections(with error: (any Error & Sendable)?) {
        state.withLock { $0.failure = error }
    }

    func make() async throws -> MockConnection {
        try state.withLock { state in
            state.attempts += 1
            if let failure = state.failure { throw failure }
            let connection = MockConnection(number: state.connections.count, factory: self)
            state.connections.append(connection)
            state.open += 1
            state.maxOpen = max(state.maxOpen, state.open)
            return connection
        }
    }

    fileprivate func connectionClosed() {
        state.withLock { $0.open -= 1 }
    }
}

/// A door that tasks wait at until the test opens it.
final class Gate: Sendable {
    private let state = SanitizerVisibleMutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Waits (polling, up to 10 s of wall time) until `condition` holds. Used to
/// wait for other tasks to reach a state, never to assert on timing.
func eventually(
    _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
) async {
    for _ in 0..<10_000 {
        if condition() { return }
        try? await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("gave up waiting for \(what)", sourceLocation: sourceLocation)
}

/// A pool of mock connections on a manual clock.
struct PoolFixture {
    let clock = ManualClock()
    let factory = MockConnectionFactory()
    let pool: ConnectionPool<MockConnection>

    init(
        size: Int = 2, maxOverflow: Int = 1, timeout: Duration = .seconds(30), recycle: Duration = .seconds(3600),
        prePing: Duration = .seconds(1), jitter: Double = 0, overflowIdle: Duration = .zero, metrics: (any MetricsFactory)? = nil
    ) {
        let factory = self.factory
        // overflowIdle zero: QueuePool's close-on-return, which most of these tests describe.
        pool = ConnectionPool(
            configuration: ConnectionPoolConfiguration(
                size: size, maxOverflow: maxOverflow, timeout: timeout, recycle: recycle,
                prePingIdleThreshold: prePing, recycleJitter: jitter, overflowIdleTimeout: overflowIdle),
            name: "test.pool", logger: Self.quietLogger, clock: clock, metricsFactory: metrics ?? NOOPMetricsHandler.instance,
            factory: { try await factory.make() })
    }

    var statistics: ConnectionPoolStatistics { pool.statistics() }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.pool")
        logger.logLevel = .critical
        return logger
    }

    /// Starts a task that holds a connection until `gate` opens, and waits until it holds it.
    func hold(until gate: Gate, in group: inout ThrowingTaskGroup<Void, any Error>) async {
        let before = pool.statistics().checkedOut
        group.addTask { [pool] in
            try await pool.withConnection { _ in await gate.wait() }
        }
        await eventually("connection \(before + 1) leased") { pool.statistics().checkedOut == before + 1 }
    }
}

/// A value shared between test tasks.
final class Shared<Value: Sendable>: Sendable {
    private let value: SanitizerVisibleMutex<Value>
    init(_ value: Value) { self.value = SanitizerVisibleMutex(value) }
    func update(_ body: (inout Value) -> Void) { value.withLock { body(&$0) } }
    var current: Value { value.withLock { $0 } }
}
