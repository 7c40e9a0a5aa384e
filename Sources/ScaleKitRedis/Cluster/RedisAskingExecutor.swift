import ScaleKit

/// A multiplexed connection as a call following an `ASK` redirection sees
/// it: each command goes out right after `ASKING` (whose flag lasts one
/// command; the pair stays adjacent because one call's commands are written
/// back to back), and only the commands' own replies come back.
struct RedisAskingExecutor: RedisCommandExecutor {
    let base: any RedisCommandExecutor

    var configuration: RedisConnectionConfiguration { base.configuration }

    func pipeline(_ commands: [RedisCommand]) async throws(ScaleKitError) -> [RedisValue] {
        var wire: [RedisCommand] = []
        wire.reserveCapacity(commands.count * 2)
        for command in commands {
            wire.append(RedisCommand("ASKING"))
            wire.append(command)
        }
        let replies = try await base.pipeline(wire)
        return stride(from: 1, to: replies.count, by: 2).map { replies[$0] }
    }
}
