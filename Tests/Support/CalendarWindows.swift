import Foundation

/// For tests whose processes count into the seed's calendar windows on the
/// real clock (the `scalekit` tool in other processes cannot be handed a
/// manual one): a run that crossed the top of an hour (or midnight) would
/// split its counts over two windows and reset the limits halfway. Such a
/// test first waits until the next hour boundary is at least `margin` away
/// (at most `margin`, only when a run happens to start just before it), so
/// its verdict never depends on when it ran.
public enum CalendarWindows {
    public static func awayFromAnHourBoundary(margin: Duration = .seconds(300)) async throws {
        let now = Date().timeIntervalSince1970
        let nextHour = (now / 3600).rounded(.down) * 3600 + 3600
        let marginSeconds = Double(margin.components.seconds)
        guard nextHour - now < marginSeconds else { return }
        // Just past the boundary: the whole next hour is ahead.
        try await Task.sleep(for: .seconds(nextHour - now + 1))
    }
}
