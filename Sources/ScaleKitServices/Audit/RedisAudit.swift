#if Redis
import Foundation
import ScaleKit
import ScaleKitRedis

/// What ScaleKit's Redis keys need from the server: nothing evicted, writes
/// that survive a restart, and a clock that agrees with the workers'.
enum RedisAudit {
    static let component = "redis"

    /// Reads the settings (`CONFIG GET`, `TIME`) on one pooled connection.
    static func probe(_ client: RedisClient) -> AuditProbe {
        AuditProbe(name: component) { _ in
            // A cluster's slot map first: which masters were found and what they serve.
            let clusterFinding = try await client.clusterTopology().map(clusterFinding)
            let serverFindings = try await client.withConnection { connection in
                var settings: [String: String] = [:]
                for name in ["maxmemory", "maxmemory-policy", "appendonly", "appendfsync", "save"] {
                    // CONFIG may be renamed or refused (hosted Redis): judged as unknown, not an outage.
                    guard let reply = try? await connection.send("CONFIG", "GET", RedisArgument(name)),
                        let parts = reply.array, parts.count == 2, let value = parts[1].string
                    else { continue }
                    settings[name] = value
                }
                let before = Date()
                let time = try await connection.send("TIME")
                let after = Date()
                let parts = time.array?.compactMap { $0.string.flatMap(Double.init) } ?? []
                let server = parts.count == 2 ? Date(timeIntervalSince1970: parts[0] + parts[1] / 1_000_000) : nil
                return findings(settings: settings, serverTime: server, before: before, after: after)
            }
            return (clusterFinding.map { [$0] } ?? []) + serverFindings
        }
    }

    /// The masters of a cluster and the slots each serves; wrong unless every slot is served.
    static func clusterFinding(_ topology: RedisClusterTopology) -> AuditFinding {
        let masters = topology.slotRanges.map { node, ranges in
            "\(node) serves \(ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))"
        }
        let summary = "\(topology.masters.count) masters, \(topology.coveredSlots) of \(RedisHashSlot.count) slots served: "
            + masters.joined(separator: "; ")
        if topology.coveredSlots == RedisHashSlot.count {
            return AuditFinding(component: component, check: "cluster", verdict: .ok, detail: summary)
        }
        return AuditFinding(
            component: component, check: "cluster", verdict: .wrong, detail: summary,
            fix: "assign every slot (redis-cli --cluster fix): calls for an unserved slot fail with CLUSTERDOWN")
    }

    /// Judges the settings read from the server (a missing one could not be read).
    static func findings(settings: [String: String], serverTime: Date?, before: Date, after: Date) -> [AuditFinding] {
        var findings = [eviction(settings), persistence(settings)]
        if let serverTime {
            findings.append(ClockAudit.finding(component: component, server: serverTime, before: before, after: after))
        } else {
            findings.append(AuditFinding(component: component, check: "clock", verdict: .warning, detail: "TIME gave no usable answer"))
        }
        return findings
    }

    private static func eviction(_ settings: [String: String]) -> AuditFinding {
        let check = "maxmemory-policy"
        guard let policy = settings["maxmemory-policy"] else {
            return AuditFinding(
                component: component, check: check, verdict: .warning, detail: "CONFIG GET is not allowed: the policy is unknown",
                fix: "check with your provider that the eviction policy is noeviction")
        }
        let limit = settings["maxmemory"].flatMap(Int.init) ?? 0
        if policy == "noeviction" {
            return AuditFinding(component: component, check: check, verdict: .ok, detail: "noeviction: a full Redis refuses writes, it drops nothing")
        }
        // The trackers' keys all carry TTLs, so volatile-* policies evict them as readily as allkeys-*.
        let fix = "CONFIG SET maxmemory-policy noeviction (and in redis.conf): counters and statuses must never be evicted"
        if limit == 0 {
            return AuditFinding(
                component: component, check: check, verdict: .warning,
                detail: "\(policy) with no maxmemory: nothing is evicted now, but setting a limit would evict counters and statuses",
                fix: fix)
        }
        return AuditFinding(
            component: component, check: check, verdict: .wrong,
            detail: "\(policy) with maxmemory \(limit) bytes: under memory pressure Redis deletes API counters (calls over the limit) and statuses",
            fix: fix)
    }

    private static func persistence(_ settings: [String: String]) -> AuditFinding {
        let check = "persistence"
        guard let appendOnly = settings["appendonly"] else {
            return AuditFinding(
                component: component, check: check, verdict: .warning, detail: "CONFIG GET is not allowed: persistence is unknown",
                fix: "check with your provider that append-only persistence is on")
        }
        let fsync = settings["appendfsync"] ?? "unknown"
        switch (appendOnly, fsync) {
        case ("yes", "always"):
            return AuditFinding(component: component, check: check, verdict: .ok, detail: "appendonly yes, appendfsync always: every acknowledged call survives a crash")
        case ("yes", "everysec"):
            return AuditFinding(
                component: component, check: check, verdict: .ok,
                detail: "appendonly yes, appendfsync everysec: a crash of the server machine may lose the last second of calls (the documented durability)")
        case ("yes", _):
            return AuditFinding(
                component: component, check: check, verdict: .warning,
                detail: "appendonly yes, appendfsync \(fsync): the OS decides when writes reach the disk",
                fix: "CONFIG SET appendfsync everysec (or always)")
        default:
            let snapshots = settings["save"].map { $0.isEmpty ? "no snapshots" : "snapshots \"\($0)\"" } ?? "snapshots unknown"
            return AuditFinding(
                component: component, check: check, verdict: .warning,
                detail: "appendonly no (\(snapshots)): a restart loses the calls counted since the last snapshot, so the day's quota can be spent twice",
                fix: "CONFIG SET appendonly yes; appendfsync everysec")
        }
    }
}
#endif
