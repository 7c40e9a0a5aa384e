import ScaleKit

/// A Redis Cluster redirection: `MOVED <slot> <host>:<port>` (the slot has a
/// new owner for good) or `ASK <slot> <host>:<port>` (this one key is being
/// migrated: ask the other node once, after `ASKING`).
struct RedisRedirect: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case moved, ask }

    var kind: Kind
    var slot: Int
    var node: RedisClusterConfiguration.Node

    init(kind: Kind, slot: Int, node: RedisClusterConfiguration.Node) {
        self.kind = kind
        self.slot = slot
        self.node = node
    }

    /// Reads a redirection from an error reply; `nil` for any other reply.
    /// An empty host (`MOVED 3999 :6380`) means the host of the node that answered.
    init?(_ reply: RedisErrorReply, answeredBy current: RedisClusterConfiguration.Node) {
        let words = reply.message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<RedisHashSlot.count).contains(slot),
            let colon = words[2].lastIndex(of: ":"), let port = Int(words[2][words[2].index(after: colon)...])
        else { return nil }
        switch words[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        var host = String(words[2][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.slot = slot
        self.node = RedisClusterConfiguration.Node(host: host.isEmpty ? current.host : host, port: port)
    }

    /// Reads a redirection from a thrown error reply.
    init?(_ error: ScaleKitError, answeredBy current: RedisClusterConfiguration.Node) {
        guard let reply = RedisErrorReply(thrown: error) else { return nil }
        self.init(reply, answeredBy: current)
    }
}
