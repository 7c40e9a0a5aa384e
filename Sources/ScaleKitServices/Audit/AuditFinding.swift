import Foundation

/// One thing `scalekit doctor --audit` checked on a server or on this
/// machine, with its verdict and, when it is not ok, what to do about it.
public struct AuditFinding: Sendable, Equatable, Encodable {
    /// How well a setting suits ScaleKit's promises.
    public enum Verdict: String, Sendable, Encodable, Comparable {
        /// The setting keeps every promise.
        case ok
        /// A promise holds only in part (for example durability across a restart).
        case warning
        /// A promise can be broken (counters evicted, claims lost, windows split).
        case wrong

        private var rank: Int { self == .ok ? 0 : self == .warning ? 1 : 2 }
        /// Orders verdicts from best to worst: `ok`, `warning`, `wrong`.
        public static func < (lhs: Verdict, rhs: Verdict) -> Bool { lhs.rank < rhs.rank }
    }

    /// What was checked: `redis`, `postgresql`, `audio`.
    public var component: String
    /// The setting or property, e.g. `maxmemory-policy`, `clock`.
    public var check: String
    /// How well the setting suits ScaleKit's promises.
    public var verdict: Verdict
    /// What was found, in one sentence (values, never secrets).
    public var detail: String
    /// How to fix it; empty when the verdict is ok.
    public var fix: String

    /// A finding; `fix` may stay empty when the verdict is ok.
    public init(component: String, check: String, verdict: Verdict, detail: String, fix: String = "") {
        self.component = component
        self.check = check
        self.verdict = verdict
        self.detail = detail
        self.fix = fix
    }
}

/// What an audit needs to know that the servers cannot tell it.
public struct AuditContext: Sendable {
    /// How many worker processes will share the servers (each with its own pools).
    public var expectedWorkers: Int

    /// A context for `expectedWorkers` worker processes (1 by default).
    public init(expectedWorkers: Int = 1) {
        self.expectedWorkers = expectedWorkers
    }
}

/// A named audit of one server: reads its settings and judges them.
public struct AuditProbe: Sendable {
    /// The server audited, for example `redis` or `postgresql`.
    public var name: String
    /// Throws when the server cannot be reached (not an audit finding).
    public var run: @Sendable (AuditContext) async throws -> [AuditFinding]

    /// An audit named `name` that runs `run`.
    public init(name: String, run: @escaping @Sendable (AuditContext) async throws -> [AuditFinding]) {
        self.name = name
        self.run = run
    }
}

/// The clock check shared by every server: how far the server's clock is
/// from this machine's, measured around one round trip.
enum ClockAudit {
    /// Skews below this are ok: far below a lease or a window, and above what
    /// a round trip on a loaded machine adds to the measurement.
    static let okSkew: TimeInterval = 1
    /// Skews from this on can move a call into another hour's window or take
    /// over a lease early.
    static let wrongSkew: TimeInterval = 30

    /// `server` was read between `before` and `after` on this machine's clock.
    static func finding(component: String, server: Date, before: Date, after: Date) -> AuditFinding {
        let local = before.addingTimeInterval(after.timeIntervalSince(before) / 2)
        let skew = server.timeIntervalSince(local)
        let uncertainty = after.timeIntervalSince(before) / 2
        let detail = String(format: "server clock %+.3f s from this machine's (±%.3f s)", skew, uncertainty)
        let magnitude = max(0, abs(skew) - uncertainty)
        if magnitude < okSkew { return AuditFinding(component: component, check: "clock", verdict: .ok, detail: detail) }
        return AuditFinding(
            component: component, check: "clock", verdict: magnitude < wrongSkew ? .warning : .wrong, detail: detail,
            fix: "run NTP (chrony, systemd-timesyncd) on this machine and on the server")
    }
}
