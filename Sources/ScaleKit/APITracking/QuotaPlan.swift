public import Foundation

/// A calendar window containing an instant: its name (`2026-11-29`,
/// `2026-11-29-08`, as in the seed's `api_tracker:day:YYYY-MM-DD`) and its end.
public struct QuotaCalendarWindow: Sendable, Hashable {
    /// `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DD-HH`, `…-HH-MM` or `…-HH-MM-SS`.
    public var name: String
    /// The window's first instant.
    public var start: Date
    /// The first instant after the window.
    public var end: Date

    /// The window of `unit` containing `instant` in `timeZone`.
    ///
    /// In a zone with daylight saving time, the repeated hour of the autumn
    /// change has one name, so its two halves share one count: the limit
    /// then errs on the safe side (refuses early), never lets more through.
    public init(_ unit: QuotaCalendarUnit, containing instant: Date, timeZone: TimeZone) {
        if timeZone.secondsFromGMT(for: instant) == 0, ["UTC", "GMT"].contains(timeZone.identifier) || timeZone == .utc {
            self.init(utc: unit, containing: instant)
        } else {
            self.init(zoned: unit, containing: instant, timeZone: timeZone)
        }
    }

    private init(zoned unit: QuotaCalendarUnit, containing instant: Date, timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: instant)
        let year = parts.year ?? 1970, month = parts.month ?? 1, day = parts.day ?? 1
        let hour = parts.hour ?? 0, minute = parts.minute ?? 0, second = parts.second ?? 0
        var name = "\(Self.pad(year, 4))-\(Self.pad(month, 2))"
        var start = DateComponents(year: year, month: month)
        let component: Calendar.Component
        switch unit {
        case .month: component = .month
        case .day: component = .day
        case .hour: component = .hour
        case .minute: component = .minute
        case .second: component = .second
        }
        if unit != .month { name += "-\(Self.pad(day, 2))"; start.day = day }
        if [.hour, .minute, .second].contains(unit) { name += "-\(Self.pad(hour, 2))"; start.hour = hour }
        if [.minute, .second].contains(unit) { name += "-\(Self.pad(minute, 2))"; start.minute = minute }
        if unit == .second { name += "-\(Self.pad(second, 2))"; start.second = second }
        self.name = name
        let startDate: Date
        if unit == .day {
            startDate = calendar.startOfDay(for: instant)
        } else {
            startDate = calendar.date(from: start) ?? instant
        }
        var end = calendar.date(byAdding: component, value: 1, to: startDate) ?? instant.addingTimeInterval(Double(unit.nominalSeconds))
        if end <= instant { end = instant.addingTimeInterval(1) }  // never an empty window, whatever the zone does
        self.start = min(startDate, instant)
        self.end = end
    }

    /// The same window in UTC by arithmetic on the proleptic Gregorian
    /// calendar (no `Calendar`: this runs on every call).
    private init(utc unit: QuotaCalendarUnit, containing instant: Date) {
        let seconds = Int64((instant.timeIntervalSince1970).rounded(.down))
        let days = QuotaLedger.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        let hour = secondOfDay / 3600, minute = secondOfDay % 3600 / 60, second = secondOfDay % 60
        var name = "\(Self.pad(Int(year), 4))-\(Self.pad(Int(month), 2))"
        let start: Int64, end: Int64
        switch unit {
        case .month:
            let (nextYear, nextMonth) = month == 12 ? (year + 1, Int64(1)) : (year, month + 1)
            start = Self.days(fromCivil: year, month, 1) * 86_400
            end = Self.days(fromCivil: nextYear, nextMonth, 1) * 86_400
        case .day:
            start = days * 86_400
            end = (days + 1) * 86_400
        case .hour:
            start = days * 86_400 + hour * 3600
            end = start + 3600
        case .minute:
            start = days * 86_400 + hour * 3600 + minute * 60
            end = start + 60
        case .second:
            start = seconds
            end = seconds + 1
        }
        if unit != .month { name += "-\(Self.pad(Int(day), 2))" }
        if [.hour, .minute, .second].contains(unit) { name += "-\(Self.pad(Int(hour), 2))" }
        if [.minute, .second].contains(unit) { name += "-\(Self.pad(Int(minute), 2))" }
        if unit == .second { name += "-\(Self.pad(Int(second), 2))" }
        self.name = name
        self.start = Date(timeIntervalSince1970: Double(start))
        self.end = Date(timeIntervalSince1970: Double(end))
    }

    /// Year, month, day of a count of days since 1970-01-01 (H. Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = QuotaLedger.floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPart = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPart + 2) / 5 + 1
        let month = monthPart < 10 ? monthPart + 3 : monthPart - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = QuotaLedger.floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Where one call to a quota is counted: for every limit, the storage key of
/// its current window, shared by every backend (the file and in-memory
/// ledgers use it as is; Redis puts the quota's hash tag in front).
///
/// | limit | storage key |
/// |---|---|
/// | calendar, overall | `<limit>:<window>` — `day:2026-11-29` |
/// | calendar, per key | `<limit>:<window>:k:<key>` — `day-per-key:2026-11-29:k:acme` |
/// | rolling, overall | `<limit>` — `rolling-1s` |
/// | rolling, per key | `<limit>:k:<key>` |
public struct QuotaPlan: Sendable {
    /// One limit's part of the plan.
    public struct Entry: Sendable {
        /// The limit.
        public var limit: QuotaLimit
        /// Its storage key for this call.
        public var storageKey: String
        /// The calendar window, for a calendar limit.
        public var calendar: QuotaCalendarWindow?
        /// Length and bucket width in milliseconds, for a rolling limit.
        public var rolling: (length: Int64, bucket: Int64)?
        /// How long the stored count is kept: twice the window's nominal
        /// length, and at least ``QuotaPlan/minimumLifetimeSeconds``.
        public var lifetimeSeconds: Int
    }

    /// The quota.
    public var quota: Quota
    /// The call's key, if any.
    public var key: String?
    /// One entry per limit, in the quota's order.
    public var entries: [Entry]

    /// The plan of a call to `quota` with `key` at `instant`.
    ///
    /// With `readingOnly` and no key, the per-key limits are left out (a
    /// usage report of the overall limits) instead of being an error.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a bad key, or a
    ///   missing key when the quota has per-key limits.
    public init(quota: Quota, key: String?, at instant: Date, readingOnly: Bool = false) throws(ScaleKitError) {
        if let key { try Quota.validateKey(key) }
        if quota.needsKey && key == nil && !readingOnly {
            throw ScaleKitError(.invalidArgument, "quota \(quota.name) has per-key limits: the call must name a key")
        }
        self.quota = quota
        self.key = key
        entries = quota.limits.filter { key != nil || !$0.perKey }.map { limit in
            let suffix = limit.perKey ? ":k:\(key ?? "")" : ""
            switch limit.window {
            case .calendar(let unit, let timeZone):
                let window = QuotaCalendarWindow(unit, containing: instant, timeZone: timeZone)
                return Entry(limit: limit, storageKey: "\(limit.name):\(window.name)\(suffix)", calendar: window,
                             rolling: nil, lifetimeSeconds: max(Self.minimumLifetimeSeconds, 2 * unit.nominalSeconds))
            case .rolling:
                let geometry = limit.window.rollingGeometry!
                return Entry(limit: limit, storageKey: "\(limit.name)\(suffix)", calendar: nil, rolling: geometry,
                             lifetimeSeconds: max(Self.minimumLifetimeSeconds, Int((2 * geometry.length + 999) / 1000)))
            }
        }
    }

    /// The shortest time a count is kept, a minute: a count named after its
    /// window is never read after the window, so keeping a per-second count
    /// a minute costs only memory, and no stalled caller ever finds the
    /// count of its own, still current window gone.
    public static let minimumLifetimeSeconds = 60

    /// The longest lifetime of the plan's counts: how long a receipt can matter.
    public var longestLifetimeSeconds: Int { entries.map(\.lifetimeSeconds).max() ?? 0 }
}

/// Proof that a call was counted, to give its units back exactly once.
///
/// It names the quota, key, cost and the instants the call was counted at,
/// from which every backend finds the same windows again; it holds no
/// storage keys, so a forged receipt can only give back units in that
/// quota's current windows, and never more than its cost per limit (counts
/// never go below zero). Pass it around as ``token``.
public struct QuotaReceipt: Sendable, Hashable, Codable {
    /// Unique per counted call.
    public var id: String
    /// The quota counted in.
    public var quota: String
    /// The call's key.
    public var key: String?
    /// The units counted.
    public var cost: Int
    /// Milliseconds since 1970 of the instant whose calendar windows counted the call.
    public var calendarAt: Int64
    /// Milliseconds since 1970 of the instant whose rolling buckets counted it
    /// (the Redis server's clock on Redis).
    public var rollingAt: Int64
    /// For a reservation, milliseconds since 1970 after which it is released by itself.
    public var reservedUntil: Int64?

    /// A fresh id for a counted call: unique (random per process, then a
    /// counter), in the UUID text layout, and cheap to make.
    public static func makeID() -> String { ReceiptID.next() }

    /// A receipt; trackers create these (a fresh id by default).
    public init(id: String = QuotaReceipt.makeID(), quota: String, key: String?, cost: Int, calendarAt: Int64, rollingAt: Int64, reservedUntil: Int64? = nil) {
        self.id = id
        self.quota = quota
        self.key = key
        self.cost = cost
        self.calendarAt = calendarAt
        self.rollingAt = rollingAt
        self.reservedUntil = reservedUntil
    }

    /// A printable form (`q1.` and base64url JSON) for the CLI and for storing with a job.
    public var token: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(self)) ?? Data()
        return "q1." + data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Reads a ``token``.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for anything that is not a well-formed receipt.
    public init(token: String) throws(ScaleKitError) {
        guard token.hasPrefix("q1."), token.utf8.count <= 2048 else {
            throw ScaleKitError(.invalidArgument, "not a quota receipt (expected q1.…, at most 2048 bytes)")
        }
        var base64 = String(token.dropFirst(3)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let receipt = try? JSONDecoder().decode(QuotaReceipt.self, from: data) else {
            throw ScaleKitError(.invalidArgument, "the quota receipt is malformed")
        }
        try receipt.validate()
        self = receipt
    }

    /// Checks the fields a hostile receipt could bend.
    public func validate() throws(ScaleKitError) {
        guard Quota.isName(quota, maximumLength: 64), !id.isEmpty, id.utf8.count <= 64,
            id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D }),
            (1...APILimits.maximumCount).contains(cost), calendarAt >= 0, rollingAt >= 0
        else { throw ScaleKitError(.invalidArgument, "the quota receipt has an invalid quota, id or cost") }
        if let key { try Quota.validateKey(key) }
    }
}

extension Date {
    /// Milliseconds since 1970, rounded down.
    var quotaMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    init(quotaMilliseconds: Int64) { self.init(timeIntervalSince1970: Double(quotaMilliseconds) / 1000) }
}
