public import Foundation

/// The day and hour windows that contain an instant, with the names every
/// backend uses for them (`2026-11-29` and `2026-11-29-08`, as in the seed's
/// `api_tracker:day:YYYY-MM-DD` and `api_tracker:hour:YYYY-MM-DD-HH` keys).
public struct APIWindows: Sendable, Hashable {
    /// `YYYY-MM-DD` of the day window.
    public var dayName: String
    /// `YYYY-MM-DD-HH` of the hour window.
    public var hourName: String
    /// The first instant after the day window.
    public var dayEnd: Date
    /// The first instant after the hour window.
    public var hourEnd: Date

    /// How long a day counter is kept after it was created: two days, as in the seed.
    public static let dayCounterLifetime: Duration = .seconds(2 * 86_400)
    /// How long an hour counter is kept: two hours, as in the seed.
    public static let hourCounterLifetime: Duration = .seconds(2 * 3_600)

    /// The windows containing `instant` in `timeZone`.
    public init(containing instant: Date, timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour], from: instant)
        let (year, month, day, hour) = (parts.year!, parts.month!, parts.day!, parts.hour!)
        dayName = "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))"
        hourName = "\(dayName)-\(Self.pad(hour, 2))"
        let dayStart = calendar.startOfDay(for: instant)
        dayEnd = calendar.date(byAdding: .day, value: 1, to: dayStart)!
        let hourStart = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour))!
        hourEnd = calendar.date(byAdding: .hour, value: 1, to: hourStart)!
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
