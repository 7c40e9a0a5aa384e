// The one place a Duration becomes a number of seconds or milliseconds, for
// the C libraries, Redis arguments and Foundation dates that take numbers.

extension Duration {
    /// The duration in seconds, as a `TimeInterval` (a Double).
    package var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded toward zero; saturates instead of trapping.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return product &+ attoseconds / 1_000_000_000_000_000
    }
}
