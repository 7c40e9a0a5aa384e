#if PostgreSQL
import Foundation
import ScaleKit
import ScaleKitPostgres

/// What the video repository needs from PostgreSQL: room for every worker's
/// pool, commits that survive a crash, a clock that agrees with the workers',
/// and to know whether a pooler sits in between.
enum PostgresAudit {
    static let component = "postgresql"

    /// What was read from the server, for ``findings(_:pool:workers:)``.
    struct Reading: Sendable {
        var maxConnections: Int
        var reservedConnections: Int
        var synchronousCommit: String
        var serverTime: Date
        var before: Date
        var after: Date
        /// `pg_backend_pid()` of consecutive statements on one client connection.
        var backendPIDs: [String]
    }

    /// Reads the settings on one pooled connection, each statement unprepared
    /// and in a transaction of its own (so a transaction pooler shows itself).
    static func probe(_ repository: PostgresVideoRepository, pool: ConnectionPoolConfiguration) -> AuditProbe {
        AuditProbe(name: component) { context in
            let reading = try await repository.pool.withConnection { connection in
                let before = Date()
                let row = try await connection.query(
                    """
                    SELECT current_setting('max_connections'), current_setting('superuser_reserved_connections'),
                           current_setting('synchronous_commit'), extract(epoch FROM clock_timestamp())::text, pg_backend_pid()::text
                    """, name: "audit settings", prepared: false
                ).first
                let after = Date()
                var pids = [row?[4] ?? ""]
                for _ in 0..<3 {
                    let pid = try await connection.query("SELECT pg_backend_pid()::text", name: "audit backend", prepared: false)
                    pids.append(pid.first?[0] ?? "")
                }
                return Reading(
                    maxConnections: row?[0].flatMap { Int($0) } ?? 0, reservedConnections: row?[1].flatMap { Int($0) } ?? 0,
                    synchronousCommit: row?[2] ?? "unknown",
                    serverTime: Date(timeIntervalSince1970: row?[3].flatMap { Double($0) } ?? 0), before: before, after: after,
                    backendPIDs: pids)
            }
            return findings(reading, pool: pool, workers: context.expectedWorkers)
        }
    }

    static func findings(_ reading: Reading, pool: ConnectionPoolConfiguration, workers: Int) -> [AuditFinding] {
        let pooled = Set(reading.backendPIDs).count > 1
        return [
            connections(reading, pool: pool, workers: workers, pooled: pooled),
            durability(reading.synchronousCommit),
            ClockAudit.finding(component: component, server: reading.serverTime, before: reading.before, after: reading.after),
            pooler(pooled),
        ]
    }

    private static func connections(_ reading: Reading, pool: ConnectionPoolConfiguration, workers: Int, pooled: Bool) -> AuditFinding {
        let check = "max_connections"
        let usable = reading.maxConnections - reading.reservedConnections
        let perWorker = pool.size.addingReportingOverflow(pool.maxOverflow)
        let (needed, overflow) = perWorker.partialValue.multipliedReportingOverflow(by: max(1, workers))
        let sizing = "(DB_POOL_SIZE \(pool.size) + DB_MAX_OVERFLOW \(pool.maxOverflow)) × \(workers) worker(s)"
        if pooled {
            return AuditFinding(
                component: component, check: check, verdict: .ok,
                detail: "behind a transaction pooler: \(sizing) client connections share the pooler's server connections (max_connections \(reading.maxConnections))")
        }
        let fix = "lower DB_POOL_SIZE / DB_MAX_OVERFLOW, raise max_connections, or put PgBouncer in front (Docs/Databases.md)"
        if perWorker.overflow || overflow || needed > usable {
            return AuditFinding(
                component: component, check: check, verdict: .wrong,
                detail: "\(sizing) = \(perWorker.overflow || overflow ? "more than Int.max" : "\(needed)") connections, but max_connections \(reading.maxConnections) − \(reading.reservedConnections) reserved leaves \(usable): under load workers fail to connect",
                fix: fix)
        }
        if needed * 10 > usable * 8 {
            return AuditFinding(
                component: component, check: check, verdict: .warning,
                detail: "\(sizing) = \(needed) of \(usable) usable connections: little room for other clients or another worker", fix: fix)
        }
        return AuditFinding(component: component, check: check, verdict: .ok, detail: "\(sizing) = \(needed) of \(usable) usable connections")
    }

    private static func durability(_ synchronousCommit: String) -> AuditFinding {
        let check = "synchronous_commit"
        switch synchronousCommit {
        case "on", "remote_apply", "remote_write", "local":
            return AuditFinding(component: component, check: check, verdict: .ok, detail: "\(synchronousCommit): a claim is acknowledged only once it is on disk")
        case "off":
            return AuditFinding(
                component: component, check: check, verdict: .wrong,
                detail: "off: a crash can lose claims and completions already acknowledged, so two workers may process one video",
                fix: "ALTER SYSTEM SET synchronous_commit = on (or set it for ScaleKit's role); SELECT pg_reload_conf()")
        default:
            return AuditFinding(component: component, check: check, verdict: .warning, detail: "\(synchronousCommit): not a value this audit knows")
        }
    }

    private static func pooler(_ pooled: Bool) -> AuditFinding {
        if pooled {
            return AuditFinding(
                component: component, check: "pooler", verdict: .warning,
                detail: "consecutive statements ran on different server backends: a transaction pooler (PgBouncer in transaction mode) is in between",
                fix: "make sure ScaleKit's statements keep no session state across transactions (Docs/Databases.md, PgBouncer)")
        }
        return AuditFinding(
            component: component, check: "pooler", verdict: .ok,
            detail: "one server backend for the whole session: a direct connection (or a pooler in session mode)")
    }
}
#endif
