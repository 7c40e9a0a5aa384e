public import ScaleKit
import Foundation

/// The contract of ``StatusTracking``, checked against any backend.
///
/// `make` returns a fresh tracker (its own key space) on the given clock.
/// `advance` moves time for TTLs: for a backend whose expiry follows the
/// injected clock, advance the clock; for a server that expires keys on its
/// own clock (Redis), also shorten the remaining TTL of the tracker's keys on
/// the server by the duration (sleeping would make the verdict depend on how
/// fast the machine is). TTLs in these checks are one to ten minutes, times
/// `timeScale`, so the real time a slow machine spends between two calls
/// never decides the outcome.
public enum StatusTrackingConformance {
    public typealias Factory = @Sendable (ManualWallClock) async throws -> any StatusTracking
    public typealias Advance = @Sendable (ManualWallClock, Duration) async throws -> Void

    public static func run(_ make: Factory, advance: Advance, timeScale: Double = 1) async throws {
        var runner = CheckRunner()
        await runner.run("absent is nil") { try await absentIsNil(make) }
        await runner.run("set and get round-trip") { try await roundTrip(make) }
        await runner.run("merge semantics") { try await mergeSemantics(make) }
        await runner.run("invalid patches change nothing") { try await invalidPatches(make) }
        await runner.run("TTL expiry and refresh") { try await ttl(make, advance, scale: max(1, timeScale)) }
        await runner.run("delete") { try await delete(make) }
        await runner.run("hostile ids and values") { try await hostile(make) }
        await runner.run("concurrent merges lose nothing") { try await concurrentMerges(make) }
        try runner.finish()
    }

    static func absentIsNil(_ make: Factory) async throws {
        let tracker = try await make(ManualWallClock())
        let status = try await tracker.status(for: "never-set")
        try expect(status == nil, "absent is nil", "got \(String(describing: status))")
        try await expectError(.invalidArgument, "absent is nil") { try await tracker.status(for: "") }
    }

    static func roundTrip(_ make: Factory) async throws {
        let check = "set and get round-trip"
        let clock = ManualWallClock()
        let tracker = try await make(clock)
        let status = JobStatus(
            state: .processing, progress: 0.25, message: "downloading",
            fields: ["video_id": "dQw4w9WgXcQ", "stage": ["name": "download", "attempt": 1], "tags": ["a", "b"], "ok": true])
        try await tracker.setStatus(status, for: "job-1")
        guard let stored = try await tracker.status(for: "job-1") else {
            throw ConformanceFailure(check: check, message: "status missing after set")
        }
        try expect(stored.state == .processing && stored.progress == 0.25 && stored.message == "downloading", check, "well-known members: \(stored)")
        try expect(stored.fields == status.fields, check, "fields: \(stored.fields)")
        try expect(stored.updatedAt.map { abs($0.timeIntervalSince(clock.now())) < 0.002 } == true, check, "updatedAt is the tracker's clock: \(String(describing: stored.updatedAt))")
        try await tracker.setStatus(JobStatus(state: .completed), for: "job-1")
        let replaced = try await tracker.status(for: "job-1")
        try expect(replaced?.state == .completed && replaced?.progress == nil && replaced?.fields == [:], check, "set replaces the whole status: \(String(describing: replaced))")
    }

    static func mergeSemantics(_ make: Factory) async throws {
        let check = "merge semantics"
        let clock = ManualWallClock()
        let tracker = try await make(clock)
        let created = try await tracker.mergeStatus(["progress": 0.1, "extra": ["a": 1, "b": 2]], for: "m")
        try expect(created.state == .pending && created.progress == 0.1, check, "merge into absent creates a pending status: \(created)")
        clock.advance(by: .seconds(5))
        let merged = try await tracker.mergeStatus(["status": "processing", "extra": ["b": nil, "c": 3], "progress": nil], for: "m")
        try expect(merged.state == .processing && merged.progress == nil, check, "state set, progress removed by null: \(merged)")
        try expect(merged.fields["extra"] == ["a": 1, "c": 3], check, "nested merge per RFC 7396: \(String(describing: merged.fields["extra"]))")
        try expect(merged.updatedAt.map { abs($0.timeIntervalSince(clock.now())) < 0.002 } == true, check, "updatedAt refreshed: \(String(describing: merged.updatedAt))")
        let stored = try await tracker.status(for: "m")
        try expect(stored == merged, check, "get returns what merge returned: \(String(describing: stored)) vs \(merged)")
        let viaHelper = try await tracker.updateStatus("m", state: .completed, progress: 1, message: "done")
        try expect(viaHelper.state == .completed && viaHelper.progress == 1 && viaHelper.message == "done" && viaHelper.fields["extra"] == ["a": 1, "c": 3], check, "updateStatus merges: \(viaHelper)")
    }

    static func invalidPatches(_ make: Factory) async throws {
        let check = "invalid patches change nothing"
        let tracker = try await make(ManualWallClock())
        try await tracker.setStatus(JobStatus(state: .processing, progress: 0.5), for: "v")
        let before = try await tracker.status(for: "v")
        var deep: JSONValue = 1
        for _ in 0..<100 { deep = ["d": deep] }
        let bad: [JSONValue] = [
            "not an object", [1, 2], nil, ["progress": 2], ["progress": "half"], ["status": "bogus"],
            ["message": 5], ["updated_at": "2020-01-01T00:00:00Z"], ["deep": deep],
            ["huge": .string(String(repeating: "x", count: 2 << 20))],
        ]
        for patch in bad {
            try await expectError(.invalidArgument, check) { try await tracker.mergeStatus(patch, for: "v") }
        }
        try await expectError(.invalidArgument, check) { try await tracker.mergeStatus(["a": 1], for: "") }
        try await expectError(.invalidArgument, check) { try await tracker.mergeStatus(["a": 1], for: "v", ttl: .zero) }
        let after = try await tracker.status(for: "v")
        try expect(after == before, check, "a refused patch must not change the status: \(String(describing: after))")
    }

    static func ttl(_ make: Factory, _ advance: Advance, scale: Double) async throws {
        let check = "TTL expiry and refresh"
        let clock = ManualWallClock()
        let tracker = try await make(clock)
        // Minutes, advanced on purpose: a server that expires keys on its own
        // clock has real time pass too, and that must never decide the outcome.
        let (short, long, refreshedTTL, step) = (
            Duration.seconds(60) * scale, Duration.seconds(120) * scale, Duration.seconds(600) * scale, Duration.seconds(90) * scale
        )
        try await tracker.setStatus(JobStatus(state: .processing), for: "short", ttl: short)
        try await tracker.setStatus(JobStatus(state: .processing), for: "refreshed", ttl: long)
        try await tracker.setStatus(JobStatus(state: .processing), for: "default")
        try await advance(clock, step)
        try await tracker.mergeStatus(["progress": 0.5], for: "refreshed", ttl: refreshedTTL)
        try await advance(clock, step)
        let expired = try await tracker.status(for: "short")
        try expect(expired == nil, check, "a status past its TTL is gone: \(String(describing: expired))")
        let refreshed = try await tracker.status(for: "refreshed")
        try expect(refreshed?.progress == 0.5, check, "a merge refreshes the TTL: \(String(describing: refreshed))")
        let byDefault = try await tracker.status(for: "default")
        try expect(byDefault != nil, check, "the default TTL (24 h) keeps a status")
    }

    static func delete(_ make: Factory) async throws {
        let check = "delete"
        let tracker = try await make(ManualWallClock())
        try await tracker.setStatus(JobStatus(state: .failed, message: "boom"), for: "d")
        let first = try await tracker.deleteStatus(for: "d")
        let second = try await tracker.deleteStatus(for: "d")
        let after = try await tracker.status(for: "d")
        try expect(first && !second && after == nil, check, "delete: \(first) \(second) \(String(describing: after))")
    }

    static func hostile(_ make: Factory) async throws {
        let check = "hostile ids and values"
        let tracker = try await make(ManualWallClock())
        for (index, text) in HostileStrings.all.enumerated() {
            try await tracker.setStatus(JobStatus(state: .processing, message: text, fields: [text: .string(text), "i": .number(Double(index))]), for: text)
        }
        for (index, text) in HostileStrings.all.enumerated() {
            let stored = try await tracker.status(for: text)
            try expect(stored?.message == text && stored?.fields[text] == .string(text) && stored?.fields["i"] == .number(Double(index)), check, "id \(text.debugDescription) did not round-trip: \(String(describing: stored))")
        }
        let big = String(repeating: "ü", count: 400_000)  // 800 KB of UTF-8
        try await tracker.setStatus(JobStatus(state: .processing, fields: ["payload": .string(big)]), for: "big")
        let stored = try await tracker.status(for: "big")
        try expect(stored?.fields["payload"] == .string(big), check, "an 800 KB value did not round-trip")
    }

    static func concurrentMerges(_ make: Factory) async throws {
        let check = "concurrent merges lose nothing"
        let tracker = try await make(ManualWallClock())
        try await tracker.setStatus(JobStatus(state: .processing, fields: ["keep": "me"]), for: "hot")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<32 {
                group.addTask {
                    for step in 1...3 {
                        try await tracker.mergeStatus(["worker_\(worker)": .number(Double(step))], for: "hot")
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await tracker.status(for: "hot")
        let missing = (0..<32).filter { final?.fields["worker_\($0)"] != .number(3) }
        try expect(missing.isEmpty && final?.fields["keep"] == "me" && final?.state == .processing, check, "workers whose last merge was lost: \(missing)")
    }
}
