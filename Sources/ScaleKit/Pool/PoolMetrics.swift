import Metrics

/// The pool's statistics as swift-metrics gauges and counters, labelled
/// `<name>.pool.<figure>` (Docs/Pool.md lists them).
///
/// Recorded under the pool's lock right after each change, and only the
/// figures that changed, so gauges never go back to an older value.
struct PoolMetrics: Sendable {
    private let size: Gauge
    private let checkedIn: Gauge
    private let checkedOut: Gauge
    private let overflow: Gauge
    private let open: Gauge
    private let waiters: Gauge
    private let created: Counter
    private let closed: Counter
    private let timeouts: Counter

    init(prefix: String, factory: any MetricsFactory) {
        func gauge(_ figure: String) -> Gauge { Gauge(label: "\(prefix).pool.\(figure)", factory: factory) }
        func counter(_ figure: String) -> Counter { Counter(label: "\(prefix).pool.\(figure)", factory: factory) }
        size = gauge("size")
        checkedIn = gauge("checked_in")
        checkedOut = gauge("checked_out")
        overflow = gauge("overflow")
        open = gauge("open")
        waiters = gauge("waiters")
        created = counter("created")
        closed = counter("closed")
        timeouts = counter("timeouts")
    }

    /// Records every figure, for the pool's start.
    func recordAll(_ statistics: ConnectionPoolStatistics) {
        size.record(statistics.size)
        checkedIn.record(statistics.checkedIn)
        checkedOut.record(statistics.checkedOut)
        overflow.record(statistics.overflow)
        open.record(statistics.open)
        waiters.record(statistics.waiters)
    }

    /// Records the figures that differ between two snapshots.
    func recordChanges(from old: ConnectionPoolStatistics, to new: ConnectionPoolStatistics) {
        if old.checkedIn != new.checkedIn { checkedIn.record(new.checkedIn) }
        if old.checkedOut != new.checkedOut { checkedOut.record(new.checkedOut) }
        if old.overflow != new.overflow { overflow.record(new.overflow) }
        if old.open != new.open { open.record(new.open) }
        if old.waiters != new.waiters { waiters.record(new.waiters) }
        if new.created > old.created { created.increment(by: new.created - old.created) }
        if new.closed > old.closed { closed.increment(by: new.closed - old.closed) }
        if new.timeouts > old.timeouts { timeouts.increment(by: new.timeouts - old.timeouts) }
    }
}
