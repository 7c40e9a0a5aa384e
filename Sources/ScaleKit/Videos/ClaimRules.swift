public import Foundation

/// The claim decision every ``VideoRepository`` makes, written once.
///
/// SQL backends express the same rules in their statements; the in-memory
/// and SQLite backends call these functions inside their critical section.
public enum ClaimRules {
    /// What a claim at `now` decides for the stored video (`nil`: none stored).
    public static func outcome(for existing: Video?, at now: Date) -> ClaimOutcome {
        guard let existing else { return .created }
        switch existing.state {
        case .completed: return .alreadyCompleted
        case .failed: return .retryingFailed
        case .processing:
            if let expiry = existing.leaseExpiresAt, expiry <= now { return .tookOverExpiredLease }
            return .alreadyProcessing
        }
    }

    /// Checks a lease: it must be positive and at most a week.
    public static func validateLease(_ lease: Duration) throws(ScaleKitError) {
        guard lease > .zero, lease <= .seconds(7 * 86_400) else {
            throw ScaleKitError(.invalidArgument, "a claim lease must be positive and at most 7 days, got \(lease)")
        }
    }

    /// Checks the id, the stored strings and the lease of a claim request.
    public static func validateClaim(id: String, title: String?, originalURL: String?, lease: Duration) throws(ScaleKitError) {
        try Identifier.validate(id, kind: "video id")
        try validateText(title, name: "title")
        try validateText(originalURL, name: "original URL")
        try validateLease(lease)
    }

    /// Stored strings may be up to 64 KiB and hold anything but NUL bytes.
    public static func validateText(_ text: String?, name: String) throws(ScaleKitError) {
        guard let text else { return }
        if text.utf8.count > 65_536 {
            throw ScaleKitError(.invalidArgument, "\(name) is \(text.utf8.count) bytes; the maximum is 65536")
        }
        if text.utf8.contains(0) {
            throw ScaleKitError(.invalidArgument, "\(name) must not contain NUL bytes")
        }
    }

    /// The end of a lease that starts at `now`.
    public static func leaseEnd(from now: Date, lease: Duration) -> Date {
        now.addingTimeInterval(lease.timeInterval)
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
