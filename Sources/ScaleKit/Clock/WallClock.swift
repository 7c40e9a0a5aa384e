public import Foundation

/// The source of wall-clock time for windows, TTLs and leases.
///
/// Every backend takes one, so tests move time forward with a manual clock
/// (ScaleKitTesting's `ManualWallClock`) instead of sleeping.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    /// The system clock.
    public init() {}
    /// The system's current time; may jump when the system clock is set.
    public func now() -> Date { Date() }
}

extension WallClock where Self == SystemWallClock {
    /// The system's real-time clock.
    public static var system: SystemWallClock { SystemWallClock() }
}
