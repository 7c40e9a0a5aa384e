import Foundation
import ScaleKit
import ScaleKitRedis
import ScaleKitTestSupport
import Testing

@Suite(.enabled(if: TestServers.redisEnabled))
struct RedisConnectionTests {
    let client: RedisClient

    init() throws { client = try TestRedis.client() }

    @Test func hostileKeysAndValuesRoundTrip() async throws {
        let prefix = TestRedis.uniquePrefix("roundtrip")
        let texts = [
            "with space", "line\r\nbreak\r\n", "quote'single\"double`", "ünïcødé 日本語 🎬", "nul\u{0}byte", "",
            "*3\r\n$3\r\nSET\r\n", "{tag}",
        ]
        let megabyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await client.withConnection { connection in
            for (index, text) in texts.enumerated() {
                let key = "\(prefix):\(text):\(index)"
                _ = try await connection.send("SET", RedisArgument(key), RedisArgument(text), "EX", 3600)
                #expect(try await connection.send("GET", RedisArgument(key)) == .bulkString(Array(text.utf8)))
            }
            _ = try await connection.send("SET", RedisArgument("\(prefix):big"), RedisArgument(bytes: megabyte), "EX", 3600)
            #expect(try await connection.send("GET", RedisArgument("\(prefix):big")) == .bulkString(megabyte))
        }
    }

    @Test func everyReplyTypeBecomesAValue() async throws {
        let key = TestRedis.uniquePrefix("types")
        try await client.withConnection { connection in
            #expect(try await connection.send("SET", RedisArgument(key), "1", "EX", 3600) == .status("OK"))
            #expect(try await connection.send("INCR", RedisArgument(key)) == .integer(2))
            #expect(try await connection.send("GET", RedisArgument(key + ":missing")) == .null)
            let array = try await connection.send("EVAL", "return {1, 'two', false, {3}}", 0)
            #expect(array == .array([.integer(1), .bulkString(Array("two".utf8)), .null, .array([.integer(3)])]))
        }
    }

    @Test func errorRepliesAreTypedErrors() async throws {
        let key = TestRedis.uniquePrefix("errors")
        try await client.withConnection { connection in
            _ = try await connection.send("SET", RedisArgument(key), "text", "EX", 3600)
            let error = await #expect(throws: ScaleKitError.self) { try await connection.send("INCR", RedisArgument(key)) }
            #expect(error?.code == .serverError && error?.nativeCode == "ERR")
            let wrongType = await #expect(throws: ScaleKitError.self) { try await connection.send("HGET", RedisArgument(key), "f") }
            #expect(wrongType?.nativeCode == "WRONGTYPE")
            // The connection stays usable after an error reply.
            try await connection.ping()
        }
    }

    @Test func pipelineReturnsEveryReplyInOrder() async throws {
        let key = TestRedis.uniquePrefix("pipeline")
        let replies = try await client.withConnection { connection in
            try await connection.pipeline([
                RedisCommand("SET", [RedisArgument(key), "5", "EX", 3600]), RedisCommand("INCRBY", [RedisArgument(key), 10]),
                RedisCommand("HGET", [RedisArgument(key), "f"]), RedisCommand("GET", [RedisArgument(key)]),
            ])
        }
        #expect(replies.count == 4 && replies[0] == .status("OK") && replies[1] == .integer(15))
        if case .error(let error) = replies[2] { #expect(error.prefix == "WRONGTYPE") } else { Issue.record("expected an error reply: \(replies[2])") }
        #expect(replies[3].integer == 15)
    }

    @Test func scriptsReloadAfterScriptFlush() async throws {
        let script = RedisScript("return ARGV[1] .. KEYS[1]")
        #expect(script.sha1 == "\(script.sha1)".lowercased() && script.sha1.count == 40)
        try await client.withConnection { connection in
            let loaded = try await connection.send("SCRIPT", "LOAD", RedisArgument(script.source))
            #expect(loaded.string == script.sha1)
            _ = try await connection.send("SCRIPT", "FLUSH")
            let reply = try await connection.evaluate(script, keys: ["k"], arguments: ["a"])
            #expect(reply.string == "ak")
            #expect(try await connection.evaluate(script, keys: ["x"], arguments: ["y"]).string == "yx")
        }
    }

    @Test func transactionStateIsClearedBeforeReuse() async throws {
        let key = TestRedis.uniquePrefix("multi")
        try await client.withConnection { connection in
            _ = try await connection.send("WATCH", RedisArgument(key))
            _ = try await connection.send("MULTI")
            #expect(try await connection.send("SET", RedisArgument(key), "x", "EX", 3600) == .status("QUEUED"))
            #expect(await connection.prepareForReuse())
            // After prepareForReuse the MULTI was discarded: commands run at once again.
            #expect(try await connection.send("GET", RedisArgument(key)) == .null)
            _ = try await connection.send("MULTI")
            _ = try await connection.send("SET", RedisArgument(key), "y", "EX", 3600)
            let exec = try await connection.send("EXEC")
            #expect(exec == .array([.status("OK")]))
        }
    }

    @Test func wrongServerFailsFastWithATypedError() async throws {
        let configuration = RedisConnectionConfiguration(
            endpoint: .tcp(host: "127.0.0.1", port: 1), password: "topsecret", connectTimeout: .milliseconds(500))
        let error = await #expect(throws: ScaleKitError.self) { try await RedisConnection.connect(configuration: configuration) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("topsecret") == false)
    }
}
