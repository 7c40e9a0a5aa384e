import Foundation
import ScaleKit
@testable import ScaleKitRedis
import ScaleKitTesting
import ScaleKitTestSupport
import Synchronization
import Testing

/// The connection every task shares: commands of many tasks go out together
/// and each task gets exactly its own replies, whatever they contain and
/// however the calls are cancelled.
@Suite(.enabled(if: TestServers.redisEnabled))
struct RedisMultiplexingTests {
    /// The RESP the multiplexed connection writes itself is binary-safe.
    @Test func hostileKeysAndValuesRoundTrip() async throws {
        let client = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix("mux-roundtrip")
        let texts = ["with space", "line\r\nbreak\r\n", "nul\u{0}byte", "", "*3\r\n$3\r\nSET\r\n", "ünïcødé 🎬", "$-1\r\n"]
        let megabyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await client.withExecutor { executor in
            for (index, text) in texts.enumerated() {
                let key = "\(prefix):\(text):\(index)"
                _ = try await executor.send("SET", RedisArgument(key), RedisArgument(text), "EX", 3600)
                #expect(try await executor.send("GET", RedisArgument(key)) == .bulkString(Array(text.utf8)))
            }
            _ = try await executor.send("SET", RedisArgument("\(prefix):big"), RedisArgument(bytes: megabyte), "EX", 3600)
            #expect(try await executor.send("GET", RedisArgument("\(prefix):big")) == .bulkString(megabyte))
        }
    }

    /// Every reply type, nested and empty ones too, read by the shared
    /// connection's reader into the same values as the pooled connection's.
    @Test func everyReplyTypeBecomesAValue() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.uniquePrefix("mux-types")
        let scripts = [
            "return {1, 'two', false, {3, {}}, ''}", "return redis.status_reply('FINE')", "return {1, redis.error_reply('NOPE inside')}",
            "local t = {} for i = 1, 1000 do t[i] = i end return t", "return {}", "return false",
        ]
        try await client.withExecutor { executor async throws -> Void in
            #expect(try await executor.send("SET", RedisArgument(key), "1", "EX", 3600) == .status("OK"))
            #expect(try await executor.send("INCR", RedisArgument(key)) == .integer(2))
            #expect(try await executor.send("GET", RedisArgument(key + ":missing")) == .null)
        }
        let shared = try await client.withExecutor { executor in
            try await executor.pipeline(scripts.map { RedisCommand("EVAL", [RedisArgument($0), 0]) })
        }
        let pooled = try await client.withConnection { connection in
            try await connection.pipeline(scripts.map { RedisCommand("EVAL", [RedisArgument($0), 0]) })
        }
        #expect(shared == pooled)
        #expect(shared[0] == .array([.integer(1), .bulkString(Array("two".utf8)), .null, .array([.integer(3), .array([])]), .bulkString([])]))
        #expect(shared[1] == .status("FINE"))
        if case .array(let items) = shared[2], case .error(let error) = items[1] { #expect(error.message == "NOPE inside") } else {
            Issue.record("a nested error reply: \(shared[2])")
        }
        #expect(shared[3] == .array((1...1000).map { .integer($0) }))
        #expect(shared[4] == .array([]) && shared[5] == .null)
    }

    /// 32 tasks each send pipelines of three commands on one key of their own,
    /// all at once: every task reads back its own values, in its own order.
    @Test func concurrentPipelinesGetTheirOwnRepliesInOrder() async throws {
        let client = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix("mux-order")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<32 {
                group.addTask {
                    let key = RedisArgument("\(prefix):\(task)")
                    for round in 1...50 {
                        let replies = try await client.withExecutor { executor in
                            try await executor.pipeline([
                                RedisCommand("SET", [key, RedisArgument("\(task)-\(round)"), "EX", 3600]),
                                RedisCommand("GET", [key]), RedisCommand("INCR", [RedisArgument("\(prefix):count")]),
                            ])
                        }
                        #expect(replies.count == 3 && replies[0] == .status("OK"))
                        #expect(replies[1].string == "\(task)-\(round)", "task \(task) read another task's reply: \(replies)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = try await client.withExecutor { try await $0.send("GET", RedisArgument("\(prefix):count")) }
        #expect(total == .bulkString(Array("1600".utf8)), "\(total)")
    }

    /// A cancelled call returns at once; its reply, arriving later, is read
    /// and dropped, so the next call on the same connection gets its own.
    @Test func aCancelledCallLeavesTheStreamInStep() async throws {
        // A client of its own: the BLPOP below holds its connection's reply
        // stream, which must stall no other test, and may take longer than
        // the usual command timeout to be released on a saturated machine.
        var configuration = try RedisConnectionConfiguration(url: try TestServers.requireRedisURL())
        configuration.commandTimeout = TestServers.hangBound
        let client = RedisClient(configuration: configuration)
        let key = TestRedis.uniquePrefix("mux-cancel")
        try await client.withExecutor { executor in
            _ = try await executor.send("SET", RedisArgument(key), "mine", "EX", 3600)
        }
        // BLPOP holds the shared connection's reply stream until the test
        // pushes (never done in production code; here it makes the reply
        // arrive after the cancellation for sure, however slow the machine).
        let list = key + ":list"
        let blocked = Task {
            try await client.withExecutor { executor in
                try await executor.send("BLPOP", RedisArgument(list), RedisArgument(Int(TestServers.hangBound.components.seconds)))
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        blocked.cancel()
        let error = await #expect(throws: ScaleKitError.self) { try await blocked.value }
        #expect(error?.code == .cancelled)
        // Now the reply comes (or, had the task not sent BLPOP yet, the element waits unread).
        _ = try await client.withConnection { connection in try await connection.send("LPUSH", RedisArgument(list), "late") }
        let reply = try await client.withExecutor { executor in try await executor.send("GET", RedisArgument(key)) }
        #expect(reply.string == "mine", "the next call got the cancelled call's reply: \(reply)")
        _ = try await client.withConnection { connection in try await connection.send("DEL", RedisArgument(key), RedisArgument(list)) }
        await client.shutdown()
    }

    /// 16 tasks × 100 checks through the trackers reach a private server on
    /// one connection (plus the one that asks), and every call is counted.
    @Test(.enabled(if: PrivateRedisServer.isAvailable))
    func manyTasksShareOneConnection() async throws {
        let server = try await PrivateRedisServer.make()
        let client = try RedisClient(url: server.url)
        let tracker = RedisAPITracker(
            client: client,
            configuration: APITrackerConfiguration(limits: APILimits(daily: 1_000_000, hourly: 1_000_000), keyPrefix: "shared"),
            clock: ManualWallClock(start: Date()), timeSource: .trackerClock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { for _ in 0..<100 { let decision = try await tracker.checkAndCount(); #expect(decision.isAllowed) } }
            }
            try await group.waitForAll()
        }
        #expect(try await tracker.usage().totalCalls == 1600)
        let clients = try await client.withConnection { connection in try await connection.send("CLIENT", "LIST") }
        let lines = (clients.string ?? "").split(separator: "\n")
        #expect(lines.count == 2, "one shared connection and the pooled one asking: \(lines)")
        #expect(client.statistics().created == 1, "only the CLIENT LIST call leased a pooled connection")
        await client.shutdown()
        await server.stop()
    }

    /// 16 tasks call without pause while the server drops the shared
    /// connection again and again (`CLIENT KILL`), so sockets fail while
    /// callers write to them themselves, while the loop writes, and half-way
    /// through large commands the socket cannot take at once. Every call
    /// gets its own reply or a connection error, never another call's
    /// reply; afterwards every task's next call succeeds, and no dropped
    /// socket is left waiting for its writer to close it. Over TLS too,
    /// where callers encrypt while the loop's thread decrypts.
    @Test(.enabled(if: PrivateRedisServer.isAvailable), arguments: [false, true])
    func connectionsDroppedUnderLoadMixNoRepliesAndLeakNoSockets(overTLS: Bool) async throws {
        let server = try await PrivateRedisServer.make(overTLS: overTLS)
        let client = try server.client()
        let admin = try server.client()
        let kills = 30
        let big = String(repeating: "x", count: 300_000)
        let tally = DropTally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    var call = 0
                    while !tally.isOver.load(ordering: .acquiring) {
                        call += 1
                        // Every 40th call is larger than a socket takes at once.
                        let payload = "\(task):\(call):" + (call % 40 == 0 ? big : "")
                        do {
                            let reply = try await client.withExecutor { executor in try await executor.send("ECHO", RedisArgument(payload)) }
                            tally.counts.withLock { tally in
                                if reply == .bulkString(Array(payload.utf8)) { tally.replies += 1 } else { tally.wrong.append("\(task):\(call) got \(reply)") }
                            }
                        } catch let error as ScaleKitError where error.code == .connectionFailed || error.code == .connectionClosed {
                            tally.counts.withLock { $0.dropped += 1 }
                        }
                    }
                }
            }
            group.addTask {
                defer { tally.isOver.store(true, ordering: .releasing) }
                for _ in 0..<kills {
                    // Waits for calls to get through on the new connection, so each kill meets a busy one.
                    let before = tally.counts.withLock { $0.replies }
                    let giveUp = ContinuousClock.now + TestServers.hangBound
                    while tally.counts.withLock({ $0.replies }) < before + 50 {
                        guard ContinuousClock.now < giveUp else { throw ScaleKitError(.timeout, "no call was answered after a kill") }
                        try await Task.sleep(for: .milliseconds(1))
                    }
                    _ = try await admin.withConnection { connection in try await connection.send("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") }
                }
            }
            try await group.waitForAll()
        }
        let (replies, dropped, wrong) = tally.counts.withLock { ($0.replies, $0.dropped, $0.wrong) }
        #expect(wrong.isEmpty, "replies that were not the call's own: \(wrong.prefix(5))")
        #expect(replies >= 50 * kills && dropped > 0, "replies \(replies), dropped \(dropped)")
        // Connected again: every task's next call is answered.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    var reply = RedisValue.null
                    for _ in 0..<2 where reply == .null {  // the first may still meet the last kill
                        do {
                            reply = try await client.withExecutor { executor in try await executor.send("ECHO", RedisArgument("after:\(task)")) }
                        } catch let error as ScaleKitError where error.code == .connectionFailed || error.code == .connectionClosed {}
                    }
                    #expect(reply == .bulkString(Array("after:\(task)".utf8)))
                }
            }
            try await group.waitForAll()
        }
        let connection = try #require(await client.withExecutor { $0 as? RedisMultiplexedConnection })
        #expect(connection.socketsAwaitingTheirWriter == 0)
        await admin.shutdown()
        await client.shutdown()
        await server.stop()
    }

    /// A call that waits for the connection to open gets the whole command
    /// timeout for its reply from the moment it opens. The TLS handshake is
    /// held up for longer than the command timeout (the server frozen, then
    /// thawed), and the call's reply then takes a second more (`BLPOP` on an
    /// empty list, 1 s): counted from the call, the reply would be overdue
    /// before it could come; counted from the opening, it is on time.
    @Test(.enabled(if: PrivateRedisServer.isAvailable))
    func theReplyTimeoutCountsFromWhenTheConnectionOpened() async throws {
        let server = try await PrivateRedisServer.make(overTLS: true)
        var configuration = try RedisConnectionConfiguration(url: server.url)
        configuration.tls?.caFile = server.tlsCA
        configuration.connectTimeout = TestServers.hangBound
        configuration.commandTimeout = TestServers.scaled(.seconds(3))
        let client = RedisClient(configuration: configuration)
        server.freeze()
        let started = ContinuousClock.now
        let call = Task { try await client.withExecutor { executor in try await executor.send("BLPOP", "empty", 1) } }
        try await Task.sleep(for: configuration.commandTimeout + .milliseconds(500))
        server.thaw()
        #expect(try await call.value == .null)
        // (It did wait for the handshake, longer than its command timeout.)
        #expect(ContinuousClock.now - started > configuration.commandTimeout)
        await client.shutdown()
        await server.stop()
    }

    /// Tasks that prefer the loop's thread as their executor run there, and
    /// share the connection with tasks on the cooperative pool: every call
    /// of both kinds is counted, each gets its own reply.
    @Test(.enabled(if: PrivateRedisServer.isAvailable))
    func tasksOnTheLoopsExecutorShareTheConnection() async throws {
        let server = try await PrivateRedisServer.make()
        let client = try RedisClient(url: server.url)
        let tracker = RedisAPITracker(
            client: client,
            configuration: APITrackerConfiguration(limits: APILimits(daily: 1_000_000, hourly: 1_000_000), keyPrefix: "loop"),
            clock: ManualWallClock(start: Date()), timeSource: .trackerClock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                let onLoop = task % 2 == 0
                group.addTask(executorPreference: onLoop ? RedisClient.eventLoopExecutor : nil) {
                    let key = RedisArgument("own:\(task)")
                    for round in 0..<100 {
                        #expect(try await tracker.checkAndCount().isAllowed)
                        let replies = try await client.withExecutor { executor in
                            try await executor.pipeline([RedisCommand("SET", [key, RedisArgument(round)]), RedisCommand("GET", [key])])
                        }
                        #expect(replies[1].string == "\(round)", "task \(task) read another's reply: \(replies)")
                        #expect(RedisEventLoop.shared.isCurrentThread == onLoop, "task \(task) runs on the wrong thread")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await tracker.usage().totalCalls == 1600)
        await client.shutdown()
        await server.stop()
    }

    /// A task on the loop's executor waiting for a frozen server is timed out
    /// like any other: the loop that runs it also watches its deadline.
    @Test(.enabled(if: PrivateRedisServer.isAvailable))
    func aCallFromTheLoopsExecutorToAFrozenServerTimesOut() async throws {
        let server = try await PrivateRedisServer.make()
        var configuration = try RedisConnectionConfiguration(url: server.url)
        configuration.commandTimeout = .milliseconds(300)
        let client = RedisClient(configuration: configuration)
        try await withTaskExecutorPreference(RedisClient.eventLoopExecutor) {
            try await Self.pingAnswered(client)
            try await Self.expectTimeoutWhileFrozen(server, client)
        }
        await client.shutdown()
        await server.stop()
    }

    /// The server restarts while calls keep coming: calls in flight fail with
    /// a transport error, and the next ones reconnect by themselves.
    @Test(.enabled(if: PrivateRedisServer.isAvailable))
    func aRestartedServerIsReconnectedToByTheNextCall() async throws {
        let server = try await PrivateRedisServer.make()
        let client = try RedisClient(url: server.url)
        try await client.withExecutor { executor in _ = try await executor.send("SET", "k", "before") }
        await server.stop()
        try await offThePool { try server.start() }
        // The loop noticed the closed socket, or the call finds out: either way at most one call fails.
        var failures = 0
        var reply: RedisValue = .null
        for _ in 0..<2 where reply == .null {
            do {
                reply = try await client.withExecutor { executor in try await executor.send("SET", "k", "after") }
            } catch let error as ScaleKitError {
                #expect(error.code == .connectionFailed || error.code == .connectionClosed, "\(error)")
                failures += 1
            }
        }
        #expect(reply == .status("OK") && failures <= 1)
        await client.shutdown()
        await server.stop()
    }

    /// A server that stops answering after the connection went quiet: the
    /// next call writes its command itself (nothing else in flight), and its
    /// reply deadline still holds: `timeout`, not a hang.
    @Test(.enabled(if: PrivateRedisServer.isAvailable))
    func aCallOnAQuietConnectionToAFrozenServerTimesOut() async throws {
        let server = try await PrivateRedisServer.make()
        var configuration = try RedisConnectionConfiguration(url: server.url)
        configuration.commandTimeout = .milliseconds(300)
        let client = RedisClient(configuration: configuration)
        try await Self.pingAnswered(client)
        // Quiet for longer than the event loop's busy spell, so it sleeps with no timeout.
        try await Task.sleep(for: .milliseconds(1500))
        try await Self.expectTimeoutWhileFrozen(server, client)
        await client.shutdown()
        await server.stop()
    }

    /// Freezes `server`: a `PING` fails with `timeout` well before the hang
    /// bound; thawed, the next `PING` is answered.
    private static func expectTimeoutWhileFrozen(_ server: PrivateRedisServer, _ client: RedisClient) async throws {
        server.freeze()
        let started = ContinuousClock.now
        let error = await #expect(throws: ScaleKitError.self) {
            try await client.withExecutor { executor in _ = try await executor.send("PING") }
        }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < TestServers.hangBound)
        server.thaw()
        try await pingAnswered(client)
    }

    /// A `PING` that is answered, asked again after a `timeout`: the reply's
    /// 300 ms budget starts before the call connects, and connecting on a
    /// loaded machine (a sanitizer build, the whole suite at once) can use it up.
    private static func pingAnswered(_ client: RedisClient) async throws {
        let giveUp = ContinuousClock.now + TestServers.hangBound
        while true {
            do {
                try await client.withExecutor { executor in _ = try await executor.send("PING") }
                return
            } catch let error as ScaleKitError where error.code == .timeout && ContinuousClock.now < giveUp {
                continue
            }
        }
    }
}

/// What the tasks of the dropped-connections test saw, and when to stop
/// (a lock the thread sanitizer sees, as in the library).
private final class DropTally: Sendable {
    let counts = SanitizerVisibleMutex((replies: 0, dropped: 0, wrong: [String]()))
    let isOver = Atomic<Bool>(false)
}
