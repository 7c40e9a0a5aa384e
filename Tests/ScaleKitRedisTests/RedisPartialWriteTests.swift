import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

/// A multi-step write on Redis reports success only when every step
/// succeeded, and a refused call is never counted (against the real server).
@Suite(.enabled(if: TestServers.redisEnabled)) struct RedisPartialWriteTests {
    /// A stats field or counter that is not a whole number fails the script
    /// before its first write: the day and hour counters stay as they were.
    @Test(arguments: [("stats", "total_requests", "abc"), ("stats", "denied_requests", "1.5"), ("day", "", "1.5"), ("hour", "", "99999999999999999999")])
    func checkAndCountValidatesBeforeItsFirstWrite(key: String, field: String, value: String) async throws {
        let client = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix("partial")
        let tracker = RedisAPITracker(client: client, configuration: APITrackerConfiguration(keyPrefix: prefix))
        // The windows of now and of the next hour and day: should the calls
        // run after a boundary, the counter they read is corrupt all the same.
        let now = Date()
        let windowSets = [now, now.addingTimeInterval(3600), now.addingTimeInterval(86_400)].map { APIWindows(containing: $0, timeZone: .utc) }
        let targets = Set(windowSets.map { key == "stats" ? tracker.keys.stats : key == "day" ? tracker.keys.day($0) : tracker.keys.hour($0) })
        for target in targets {
            _ = try await client.withConnection { connection in
                field.isEmpty
                    ? try await connection.send("SET", RedisArgument(target), RedisArgument(value))
                    : try await connection.send("HSET", RedisArgument(target), RedisArgument(field), RedisArgument(value))
            }
        }
        for _ in 0..<3 {
            let error = await #expect(throws: ScaleKitError.self) { try await tracker.checkAndCount() }
            #expect(error?.code == .corruptData, "\(String(describing: error))")
        }
        let untouched: [String: RedisValue] = [
            "day": key == "day" ? .bulkString(Array(value.utf8)) : .null, "hour": key == "hour" ? .bulkString(Array(value.utf8)) : .null,
            "total": key == "stats" && field == "total_requests" ? .bulkString(Array(value.utf8)) : .null,
        ]
        for windows in windowSets {
            let counters = try await client.withConnection { connection in
                try await connection.pipeline([
                    RedisCommand("GET", [RedisArgument(tracker.keys.day(windows))]), RedisCommand("GET", [RedisArgument(tracker.keys.hour(windows))]),
                    RedisCommand("HGET", [RedisArgument(tracker.keys.stats), "total_requests"]),
                ])
            }
            #expect(counters == [untouched["day"]!, untouched["hour"]!, untouched["total"]!], "a refused call was counted: \(counters)")
        }
        for windows in windowSets {
            _ = try await client.withConnection { connection in
                try await connection.send("DEL", RedisArgument(tracker.keys.stats), RedisArgument(tracker.keys.day(windows)), RedisArgument(tracker.keys.hour(windows)))
            }
        }
    }

    /// EXEC runs a queued SET that Redis then refuses (`ERR invalid expire
    /// time`) and says so only in its element reply: the check throws.
    @Test func execElementErrorsAreFailures() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.uniquePrefix("exec")
        let replies = try await client.withConnection { connection in
            try await connection.pipeline([
                RedisCommand("MULTI"), RedisCommand("SET", [RedisArgument(key), "v", "PX", RedisArgument(Int.max)]), RedisCommand("EXEC"),
            ])
        }
        #expect(replies[2].array?.count == 1)
        let error = #expect(throws: ScaleKitError.self) { try RedisTransaction.checkExecReplies(replies[2], commands: ["SET"]) }
        #expect(error?.code == .serverError && error?.message.contains("SET") == true, "\(String(describing: error))")
        #expect(throws: ScaleKitError.self) { try RedisTransaction.checkExecReplies(.array([]), commands: ["SET"]) }
        try RedisTransaction.checkExecReplies(.array([.status("OK")]), commands: ["SET"])
        let stored = try await client.withConnection { connection in try await connection.send("GET", RedisArgument(key)) }
        #expect(stored.isNull)
    }
}
