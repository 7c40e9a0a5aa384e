import Foundation
import ScaleKit
@testable import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

/// Writes of one status from tasks of one process are committed together
/// (one compare-and-set for every write that queued meanwhile), with the
/// result of writing them one after another.
@Suite(.enabled(if: PrivateRedisServer.isAvailable))
struct RedisStatusBatchingTests {
    /// 32 tasks × 10 merges into one status: every field is there, each
    /// caller's result holds its own field, and the server ran fewer writes
    /// than there were merges.
    @Test func concurrentMergesOfOneStatusAreCommittedTogether() async throws {
        let server = try await PrivateRedisServer.make()
        let client = try RedisClient(url: server.url)
        let tracker = RedisStatusTracker(client: client, configuration: StatusTrackerConfiguration(keyPrefix: "batch"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<32 {
                group.addTask {
                    for round in 0..<10 {
                        let field = "t\(task)r\(round)"
                        let status = try await tracker.mergeStatus(.object([field: .number(Double(round))]), for: "job", ttl: nil)
                        #expect(status.fields[field] == .number(Double(round)), "the result of a batched merge lacks the caller's own field")
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try #require(try await tracker.status(for: "job"))
        #expect((0..<32).allSatisfy { task in (0..<10).allSatisfy { stored.fields["t\(task)r\($0)"] == .number(Double($0)) } })
        let stats = try await client.withConnection { try await $0.send("INFO", "commandstats") }.string ?? ""
        func calls(_ command: String) -> Int {
            stats.split(separator: "\r\n").first { $0.hasPrefix("cmdstat_\(command):") }
                .flatMap { $0.split(separator: ",").first?.split(separator: "=").last }.flatMap { Int($0) } ?? 0
        }
        // Each batch is one compare-and-set script (EVALSHA; EVAL once, when the server first sees it).
        let writes = calls("evalsha") + calls("eval")
        #expect(writes > 0 && writes < 320, "320 merges took \(writes) writes: none was batched\n\(stats)")
        await client.shutdown()
        await server.stop()
    }

    /// In one burst, merges that would grow the status over its size limit
    /// and writes under a stale fence fail alone; every other write lands.
    @Test func aRefusedWriteInABatchFailsOnlyItsCaller() async throws {
        let server = try await PrivateRedisServer.make()
        let client = try RedisClient(url: server.url)
        let tracker = RedisStatusTracker(
            client: client,
            configuration: StatusTrackerConfiguration(keyPrefix: "refuse", limits: JSONValue.Limits(maximumDepth: 8, maximumBytes: 4096)))
        let current = StatusFence(attempt: 2, token: ClaimToken.random())
        try await tracker.mergeStatus(["filler": .string(String(repeating: "x", count: 3000))], for: "job", ttl: nil, fence: current)
        let stale = StatusFence(attempt: 1, token: ClaimToken.random())
        let outcomes = try await withThrowingTaskGroup(of: (Int, ScaleKitError.Code?).self) { group in
            for task in 0..<24 {
                group.addTask {
                    do {
                        switch task % 3 {
                        case 0: try await tracker.mergeStatus(["big\(task)": .string(String(repeating: "y", count: 2000))], for: "job", ttl: nil)
                        case 1: try await tracker.mergeStatus(["stale\(task)": true], for: "job", ttl: nil, fence: stale)
                        default: try await tracker.mergeStatus(["ok\(task)": true], for: "job", ttl: nil, fence: current)
                        }
                        return (task, nil)
                    } catch let error as ScaleKitError {
                        return (task, error.code)
                    }
                }
            }
            var outcomes: [Int: ScaleKitError.Code?] = [:]
            for try await (task, code) in group { outcomes[task] = code }
            return outcomes
        }
        for (task, code) in outcomes {
            switch task % 3 {
            case 0: #expect(code == .invalidArgument, "task \(task): \(String(describing: code))")
            case 1: #expect(code == .notClaimHolder, "task \(task): \(String(describing: code))")
            default: #expect(code == nil, "task \(task): \(String(describing: code))")
            }
        }
        let stored = try #require(try await tracker.status(for: "job"))
        #expect(stored.fields.keys.filter { $0.hasPrefix("ok") }.count == 8)
        #expect(!stored.fields.keys.contains { $0.hasPrefix("big") || $0.hasPrefix("stale") })
        await client.shutdown()
        await server.stop()
    }

    /// A tracker merges into the value it last wrote without reading it
    /// first; when another process (another tracker) has changed it since,
    /// the write notices, merges into the stored value instead, and a
    /// refusal judged on the remembered value is checked against the stored one.
    @Test func aValueChangedByAnotherProcessIsMergedIntoAndRechecked() async throws {
        let client = try TestRedis.client()
        let configuration = StatusTrackerConfiguration(keyPrefix: TestRedis.uniquePrefix("known"))
        let here = RedisStatusTracker(client: client, configuration: configuration)
        let elsewhere = RedisStatusTracker(client: client, configuration: configuration)
        let second = StatusFence(attempt: 2, token: ClaimToken.random())
        try await here.mergeStatus(["by": "here"], for: "job", ttl: nil, fence: second)
        // Elsewhere, the status is set again without a fence: any attempt may write now.
        try await elsewhere.setStatus(JobStatus(state: .processing, fields: ["reset": true]), for: "job", ttl: nil)
        let first = StatusFence(attempt: 1, token: ClaimToken.random())
        let admitted = try await here.mergeStatus(["again": true], for: "job", ttl: nil, fence: first)
        #expect(admitted.fence?.attempt == 1 && admitted.fields["reset"] == true && admitted.fields["by"] == nil, "\(admitted)")
        // And a plain merge after another change keeps that change.
        try await elsewhere.mergeStatus(["elsewhere": true], for: "job", ttl: nil)
        let merged = try await here.mergeStatus(["here": true], for: "job", ttl: nil)
        #expect(merged.fields["elsewhere"] == true && merged.fields["here"] == true && merged.fields["again"] == true, "\(merged)")
    }
}
