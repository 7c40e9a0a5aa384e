public import Foundation
public import ScaleKit

/// A clock that moves only when a test moves it, so windows, TTLs and leases
/// are tested without sleeping.
public final class ManualWallClock: WallClock {
    private let current: SanitizerVisibleMutex<Date>

    /// A clock stopped at `start` (default: 2026-01-01T00:00:00Z, a window boundary).
    public init(start: Date = Date(timeIntervalSince1970: 1_767_225_600)) {
        current = SanitizerVisibleMutex(start)
    }

    /// The instant the clock stands at; changes only when a test moves it.
    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0.addingTimeInterval(duration.timeInterval) }
    }

    /// Sets the clock to `date`.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
