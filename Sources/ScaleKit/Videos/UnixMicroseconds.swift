package import Foundation

/// Timestamps as the SQL backends store them: whole microseconds since 1970-01-01 UTC.
///
/// Conversion goes through the reference-date interval `Date` keeps
/// internally, so a clock's instant plus a lease comes back as exactly the
/// `Date` the in-memory repository would return (to the microsecond).
package enum UnixMicroseconds {
    private static let referenceDateOffset: Int64 = 978_307_200_000_000

    package static func from(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSinceReferenceDate * 1_000_000).rounded()) + referenceDateOffset
    }

    package static func date(_ microseconds: Int64) -> Date {
        Date(timeIntervalSinceReferenceDate: Double(microseconds - referenceDateOffset) / 1_000_000)
    }
}
