@testable import ScaleKitRedis
import Testing

/// The RESP the multiplexed connection writes itself: arguments given as
/// text, whole numbers or bytes come out exactly as hiredis's
/// `redisFormatCommandArgv` writes them (an array of bulk strings).
struct RESPFormattingTests {
    private func resp(_ commands: [RedisCommand]) -> String {
        var bytes: [UInt8] = []
        RESP.append(commands, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func argumentsOfEveryFormBecomeBulkStrings() {
        let command = RedisCommand("SET", ["ключ 🎬", RedisArgument(bytes: [0, 13, 10]), 0, -42, RedisArgument(Int.min), RedisArgument(Int.max), ""])
        #expect(
            resp([command])
                == "*8\r\n$3\r\nSET\r\n$13\r\nключ 🎬\r\n$3\r\n\u{0}\r\n\r\n$1\r\n0\r\n$3\r\n-42\r\n"
                + "$20\r\n-9223372036854775808\r\n$19\r\n9223372036854775807\r\n$0\r\n\r\n")
        #expect(resp([RedisCommand("PING"), RedisCommand("GET", ["k"])]) == "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    }

    @Test func anArgumentIsTheSameWhateverFormItWasGivenIn() {
        #expect(RedisArgument(12345) == RedisArgument("12345"))
        #expect(RedisArgument("12345") == RedisArgument(bytes: Array("12345".utf8)))
        #expect(Set([RedisArgument(7), RedisArgument("7"), RedisArgument(bytes: [0x37])]).count == 1)
        for value in [0, 9, 10, -1, -10, 99, 100, Int.max, Int.min] {
            #expect(RedisArgument(value).count == String(value).utf8.count)
            #expect(RedisArgument(value).bytes == Array(String(value).utf8))
        }
    }

    /// A prepared script call sends exactly the bytes the same call formatted
    /// afresh would, whatever value fills it; a value of another length than
    /// the placeholder's is formatted afresh.
    @Test func aPreparedScriptCallSendsWhatTheCallFormattedAfreshWould() {
        let script = RedisScript("return ARGV[2]")
        let keys: [RedisArgument] = ["{q}:stats", "{q}:day:2026-12-06"]
        let prepared = RedisPreparedScriptCall(
            script: script, keys: keys, arguments: ["check", "00000000-0000-0000-0000-000000000000", 1], varyingIndex: 1)
        for value in ["0123abcd-4567-89ef-0123-456789abcdef", "short", "ключ \r\n 🎬 and then some more text"] {
            let (arguments, wireBytes) = prepared.filled(with: value)
            #expect(arguments == ["check", RedisArgument(value), 1])
            let afresh = RedisCommand("EVALSHA", [RedisArgument(script.sha1), 2] + keys + arguments)
            if value.utf8.count == 36 {
                #expect(wireBytes.map { String(decoding: $0, as: UTF8.self) } == resp([afresh]))
                #expect(resp([RedisCommand(parts: afresh.parts, wireBytes: wireBytes)]) == resp([afresh]))
            } else {
                #expect(wireBytes == nil)
            }
        }
    }
}
