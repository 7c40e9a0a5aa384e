import CHiredis
import Foundation
import ScaleKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One thread that waits, with `epoll`, on the sockets of every multiplexed
/// Redis connection in the process, and does all of their reading and
/// writing: no thread is blocked per connection, and no socket call runs on
/// Swift's cooperative pool.
///
/// Other threads hand it work with ``execute(_:)``; an `eventfd` wakes it,
/// written only when the loop is actually asleep in `epoll_wait`, so a burst
/// of calls costs one wake-up, not one per call. Each turn the loop also
/// asks its connections for their next reply deadline and sleeps no longer
/// than that, so a server that stops answering is noticed on time.
final class RedisEventLoop: Sendable {
    /// The process's loop, started on first use.
    static let shared = RedisEventLoop()

    private let epoll: Int32
    private let wakeDescriptor: Int32
    private let inbox = SanitizerVisibleMutex(Inbox())
    /// Touched only by the loop's thread.
    private let registry = LoopThreadOnly()
    /// Set while the loop may sleep with no timeout at all (nothing due and
    /// nothing happened for a while): a call that wrote its command itself
    /// must then wake it, so its reply deadline is watched.
    private let sleepsWithoutTimeout = Atomic<Bool>(false)
    private let loopThread = Mutex<pthread_t?>(nil)

    /// While there was activity this recently, the loop wakes at least every
    /// ``watchInterval``, so a command a caller wrote itself is timed out
    /// without anyone waking the loop for it.
    private static let busySpell: Duration = .seconds(1)
    static let watchInterval: Duration = .milliseconds(50)

    /// A piece of work for the loop's thread: a closure of ScaleKit's own,
    /// or a job of a task that prefers this loop as its executor.
    private enum Work: Sendable {
        case closure(@Sendable () -> Void)
        case task(UnownedJob)
    }

    private struct Inbox {
        var jobs: [Work] = []
        /// The loop is inside (or about to enter) `epoll_wait` and needs the eventfd to wake.
        var isSleeping = false
        /// The eventfd was written and not yet drained.
        var isWakePending = false
    }

    /// The sockets and their connections, owned by the loop's thread.
    private final class LoopThreadOnly: @unchecked Sendable {
        var connections: [Int32: RedisMultiplexedConnection] = [:]
        var lastActivity = ContinuousClock.now
    }

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeDescriptor = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeDescriptor >= 0, "epoll and eventfd are part of every Linux kernel ScaleKit runs on")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeDescriptor
        _ = epoll_ctl(epoll, EPOLL_CTL_ADD, wakeDescriptor, &event)
        let thread = Thread { [self] in run() }
        thread.name = "scalekit.redis.loop"
        thread.start()
    }

    /// Runs `job` on the loop's thread, soon.
    func execute(_ job: @escaping @Sendable () -> Void) {
        submit(.closure(job))
    }

    private func submit(_ work: Work) {
        let mustWake = inbox.withLock { inbox -> Bool in
            inbox.jobs.append(work)
            guard inbox.isSleeping, !inbox.isWakePending else { return false }
            inbox.isWakePending = true
            return true
        }
        if mustWake { _ = eventfd_write(wakeDescriptor, 1) }
    }

    /// A caller wrote a command itself and waits for its reply: makes sure
    /// the loop wakes in time to enforce the reply's deadline.
    func watchDeadlines() {
        if sleepsWithoutTimeout.load(ordering: .sequentiallyConsistent) { execute {} }
    }

    // MARK: On the loop's thread

    /// Starts watching `descriptor` for `connection`: readable always, writable when asked.
    func register(_ descriptor: Int32, for connection: RedisMultiplexedConnection) {
        registry.connections[descriptor] = connection
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        event.data.fd = descriptor
        _ = epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event)
    }

    /// Asks (or stops asking) to hear when `descriptor` can take more bytes.
    func watchWritable(_ descriptor: Int32, _ wanted: Bool) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | (wanted ? EPOLLOUT.rawValue : 0)
        event.data.fd = descriptor
        _ = epoll_ctl(epoll, EPOLL_CTL_MOD, descriptor, &event)
    }

    /// Stops watching `descriptor`; call before closing it.
    func deregister(_ descriptor: Int32) {
        registry.connections[descriptor] = nil
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, nil)
    }

    /// Whether the caller runs on the loop's thread (for tests of ``RedisClient/eventLoopExecutor``).
    var isCurrentThread: Bool {
        loopThread.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    private func run() {
        loopThread.withLock { $0 = pthread_self() }
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            // Announced before the deadlines are read: a caller that queued its
            // command after this sees the flag and wakes the loop; one that
            // queued it before has its deadline read below.
            sleepsWithoutTimeout.store(true, ordering: .sequentiallyConsistent)
            let now = ContinuousClock.now
            var deadline = nextDeadline()
            if now - registry.lastActivity < Self.busySpell {
                let watch = now.advanced(by: Self.watchInterval)
                if deadline.map({ watch < $0 }) ?? true { deadline = watch }
            }
            let hasJobs = inbox.withLock { inbox -> Bool in
                inbox.isSleeping = inbox.jobs.isEmpty
                return !inbox.jobs.isEmpty
            }
            if hasJobs || deadline != nil { sleepsWithoutTimeout.store(false, ordering: .sequentiallyConsistent) }
            let timeout = hasJobs ? 0 : Self.milliseconds(until: deadline)
            let ready = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), timeout) }
            sleepsWithoutTimeout.store(false, ordering: .sequentiallyConsistent)
            inbox.withLock { $0.isSleeping = false }
            if ready > 0 {
                for index in 0..<Int(ready) {
                    let event = events[index]
                    let descriptor = event.data.fd
                    if descriptor == wakeDescriptor {
                        var count: eventfd_t = 0
                        _ = eventfd_read(wakeDescriptor, &count)
                        inbox.withLock { $0.isWakePending = false }
                    } else {
                        registry.connections[descriptor]?.handle(events: event.events)
                    }
                }
            }
            // Taken after the sockets: a task that a reply just resumed on
            // this loop (its preferred executor) runs in this turn.
            let jobs = inbox.withLock { inbox -> [Work] in
                let jobs = inbox.jobs
                inbox.jobs.removeAll(keepingCapacity: true)
                return jobs
            }
            for work in jobs {
                switch work {
                case .closure(let job): job()
                case .task(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                }
            }
            if ready > 0 || !jobs.isEmpty { registry.lastActivity = ContinuousClock.now }
            if deadline != nil { expireOverdue() }
        }
    }

    /// The earliest reply deadline of any connection, or `nil` when none waits for a reply.
    private func nextDeadline() -> ContinuousClock.Instant? {
        var earliest: ContinuousClock.Instant?
        for connection in registry.connections.values {
            if let deadline = connection.oldestDeadline(), earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        }
        return earliest
    }

    private func expireOverdue() {
        let now = ContinuousClock.now
        for connection in Array(registry.connections.values) {
            if let deadline = connection.oldestDeadline(), deadline <= now { connection.expire() }
        }
    }

    /// `epoll_wait`'s timeout: -1 (no deadline) or the milliseconds until `deadline`, rounded up.
    private static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let (seconds, attoseconds) = (deadline - ContinuousClock.now).components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}

/// The loop as a task executor: a task that prefers it
/// (`withTaskExecutorPreference(RedisClient.eventLoopExecutor)`) runs on the
/// loop's thread, so a reply resumes it there, in the same turn that read
/// it, instead of waking a thread of the cooperative pool.
extension RedisEventLoop: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        submit(.task(UnownedJob(job)))
    }
}
