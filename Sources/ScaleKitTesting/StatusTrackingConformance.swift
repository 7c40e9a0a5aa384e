public import ScaleKit
import Foundation

/// The contract of ``/ScaleKit/StatusTracking``, checked against any backend.
///
/// `make` returns a fresh tracker (its own key space) on the given clock,
/// with the default size limits (``/ScaleKit/JSONValue/Limits/default``: 1 MiB,
/// depth 32) unless `limits` says otherwise.
/// `advance` moves time for TTLs. The default advances the clock, which is
/// all a backend whose expiry follows the injected clock needs; for a server that expires keys on its
/// own clock (Redis), also shorten the remaining TTL of the tracker's keys on
/// the server by the duration (sleeping would make the verdict depend on how
/// fast the machine is). TTLs in these checks are one to ten minutes, times
/// `timeScale`, so the real time a slow machine spends between two calls
/// never decides the outcome.
public enum StatusTrackingConformance {
    /// Builds a fresh tracker, in a key space of its own, on the given clock.
    public typealias Factory = @Sendable (ManualWallClock) async throws -> any StatusTracking
    /// Moves time forward by the duration for the tracker's TTLs (see the type's
    /// documentation).
    public typealias Advance = @Sendable (ManualWallClock, Duration) async throws -> Void

    /// Runs every check of the contract against trackers from `make`.
    ///
    /// - Parameters:
    ///   - make: Builds a fresh tracker.
    ///   - advance: Moves time for TTLs; the default advances the clock.
    ///   - timeScale: Multiplies every TTL the checks use (1: one to ten minutes).
    ///   - limits: The size limits the factory's trackers keep (default 1 MiB, depth 32).
    /// - Throws: ``ConformanceFailures`` listing every check that failed, each
    ///   with what was expected and what happened, or what `make` or `advance` throws.
    public static func run(
        _ make: Factory, advance: Advance = { clock, duration in clock.advance(by: duration) }, timeScale: Double = 1,
        limits: JSONValue.Limits = .default
    ) async throws {
        var runner = CheckRunner()
        await runner.run("absent is nil") { try await absentIsNil(make) }
        await runner.run("set and get round-trip") { try await roundTrip(make) }
        await runner.run("merge semantics") { try await mergeSemantics(make) }
        await runner.run("invalid patches change nothing") { try await invalidPatches(make) }
        await runner.run("size limit") { try await sizeLimit(make, limits: limits) }
        await runner.run("TTL expiry and refresh") { try await ttl(make, advance, scale: max(1, timeScale)) }
        await runner.run("delete") { try await delete(make) }
        await runner.run("hostile ids and values") { try await hostile(make) }
        await runner.run("concurrent merges lose nothing") { try await concurrentMerges(make) }
        await runner.run("fenced writes refuse a taken-over claim") { try await fencedTakeover(make) }
        await runner.run("concurrent fenced writes: the latest attempt wins") { try await concurrentFencedWrites(make) }
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

    /// A status over the size limit is refused whole, whether it is set at
    /// once or grows there by merges each under the limit, and the stored
    /// status stays as it was.
    static func sizeLimit(_ make: Factory, limits: JSONValue.Limits) async throws {
        let check = "size limit"
        let tracker = try await make(ManualWallClock())
        try await tracker.setStatus(JobStatus(state: .processing, message: "kept"), for: "big")
        let before = try await tracker.status(for: "big")
        let tooBig = String(repeating: "x", count: limits.maximumBytes + 1)
        try await expectError(.invalidArgument, check) {
            try await tracker.setStatus(JobStatus(state: .processing, fields: ["blob": .string(tooBig)]), for: "big")
        }
        let afterSet = try await tracker.status(for: "big")
        try expect(afterSet == before, check, "expected the status before the refused set, got \(String(describing: afterSet))")
        // Two halves, each well under the limit, that together pass it.
        let half = String(repeating: "y", count: limits.maximumBytes / 2 + 16)
        _ = try await tracker.mergeStatus(["first": .string(half)], for: "big")
        let afterFirst = try await tracker.status(for: "big")
        try await expectError(.invalidArgument, check) { try await tracker.mergeStatus(["second": .string(half)], for: "big") }
        let afterSecond = try await tracker.status(for: "big")
        try expect(
            afterSecond == afterFirst && afterSecond?.fields["second"] == nil, check,
            "expected the merge that would pass \(limits.maximumBytes) bytes to change nothing, got fields \(afterSecond.map { Array($0.fields.keys).sorted() } ?? [])")
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

    static func fencedTakeover(_ make: Factory) async throws {
        let check = "fenced writes refuse a taken-over claim"
        let tracker = try await make(ManualWallClock())
        let first = StatusFence(attempt: 1, token: .random())
        let second = StatusFence(attempt: 2, token: .random())
        // Worker A holds attempt 1 and writes.
        try await tracker.setStatus(JobStatus(state: .processing, progress: 0.1), for: "f", fence: first)
        let byA = try await tracker.mergeStatus(["progress": 0.2, "by": "A"], for: "f", fence: first)
        try expect(byA.fence?.attempt == 1 && byA.fields["by"] == "A", check, "the holder's own writes are admitted: \(byA)")
        // A's lease expired; B claimed attempt 2 and writes first thing.
        let byB = try await tracker.mergeStatus(["progress": 0.0, "by": "B"], for: "f", fence: second)
        try expect(byB.fence?.attempt == 2, check, "a later attempt's first write takes the fence over: \(byB)")
        let before = try await tracker.status(for: "f")
        // A comes back: every write of A is refused, and changes nothing.
        try await expectError(.notClaimHolder, check) { try await tracker.mergeStatus(["progress": 0.9, "by": "A"], for: "f", fence: first) }
        try await expectError(.notClaimHolder, check) { try await tracker.setStatus(JobStatus(state: .completed), for: "f", fence: first) }
        try await expectError(.notClaimHolder, check) { try await tracker.updateStatus("f", state: .failed, fence: first) }
        // The same attempt with another token is not the holder either.
        let forged = StatusFence(attempt: 2, token: .random())
        try await expectError(.notClaimHolder, check) { try await tracker.mergeStatus(["by": "forged"], for: "f", fence: forged) }
        let after = try await tracker.status(for: "f")
        try expect(after == before, check, "a refused write must not change the status: \(String(describing: after))")
        // An unfenced merge is never refused and keeps the fence; A is still refused after it.
        let unfenced = try await tracker.mergeStatus(["note": "ops"], for: "f")
        try expect(unfenced.fence?.attempt == 2 && unfenced.fields["by"] == "B", check, "an unfenced merge keeps the fence: \(unfenced)")
        try await expectError(.notClaimHolder, check) { try await tracker.mergeStatus(["by": "A"], for: "f", fence: first) }
        // A patch may not set the fence itself.
        try await expectError(.invalidArgument, check) { try await tracker.mergeStatus(["claim_fence": nil], for: "f") }
        try await expectError(.invalidArgument, check) {
            try await tracker.mergeStatus(["claim_fence": ["attempt": 99, "holder": "x"]], for: "f", fence: second)
        }
        // B finishes under its fence; the stored status never contains a token.
        let done = try await tracker.updateStatus("f", state: .completed, progress: 1, fence: second)
        try expect(done.state == .completed && done.fence?.attempt == 2, check, "the holder completes: \(done)")
        let encoded = String(decoding: done.jsonObject.encoded(), as: UTF8.self)
        try expect(!encoded.contains(first.token.rawValue) && !encoded.contains(second.token.rawValue), check, "a stored status must hold a digest of the token, not the token: \(encoded)")
        // A status set without a fence starts over: any attempt may then write.
        try await tracker.setStatus(JobStatus(state: .pending), for: "f")
        let reset = try await tracker.status(for: "f")
        try expect(reset?.fence == nil, check, "an unfenced set replaces the fence too: \(String(describing: reset))")
        try await tracker.mergeStatus(["by": "A again"], for: "f", fence: first)
        // A fence given to setStatus inside the status is ignored: the tracker sets it.
        var spoofed = JobStatus(state: .processing)
        spoofed.fence = StatusFenceRecord(attempt: 1_000, holder: "spoofed")
        try await tracker.setStatus(spoofed, for: "g")
        let notSpoofed = try await tracker.status(for: "g")
        try expect(notSpoofed?.fence == nil, check, "setStatus must ignore a fence inside the status: \(String(describing: notSpoofed))")
    }

    static func concurrentFencedWrites(_ make: Factory) async throws {
        let check = "concurrent fenced writes: the latest attempt wins"
        let tracker = try await make(ManualWallClock())
        let fences = (1...16).map { StatusFence(attempt: $0, token: .random()) }
        // Every attempt writes at once. Whatever the order, the last attempt is
        // always admitted, and a lower attempt checked after it is refused:
        // a check and write that are not one step let a lower attempt's write
        // land over the last one's fence.
        let admitted = try await withThrowingTaskGroup(of: Int?.self) { group in
            for fence in fences {
                group.addTask {
                    do {
                        try await tracker.mergeStatus(["attempt_\(fence.attempt)": true], for: "race", fence: fence)
                        return fence.attempt
                    } catch let error as ScaleKitError where error.code == .notClaimHolder {
                        return nil
                    }
                }
            }
            var admitted: Set<Int> = []
            for try await attempt in group { if let attempt { admitted.insert(attempt) } }
            return admitted
        }
        let final = try await tracker.status(for: "race")
        try expect(final?.fence?.attempt == 16, check, "the stored fence must be the last attempt's: \(String(describing: final?.fence))")
        let wrong = (1...16).filter { (final?.fields["attempt_\($0)"] == true) != admitted.contains($0) }
        try expect(admitted.contains(16) && wrong.isEmpty, check, "admitted \(admitted.sorted()), but the stored members disagree for \(wrong)")
        for fence in fences.dropLast() {
            try await expectError(.notClaimHolder, check) { try await tracker.mergeStatus(["late": true], for: "race", fence: fence) }
        }
    }
}
