public import ScaleKit
import Foundation

/// Where a Redis Cluster is, and how far a call follows it when it moves.
///
/// The seed nodes are only where discovery starts: the client asks them for
/// the cluster's slot map (`CLUSTER SLOTS`) and then talks to each slot's
/// master directly. One reachable seed is enough. Credentials, timeouts and
/// keepalive come from the ``RedisConnectionConfiguration`` given beside it
/// (its host and port are not used); a cluster has only database 0.
public struct RedisClusterConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// One node's address.
    public struct Node: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// A host name or IP address (an IPv6 address without brackets).
        public var host: String
        /// The node's client port.
        public var port: Int

        /// A node at `host:port`.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, with an IPv6 address in brackets.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        /// Orders by host, then port.
        public static func < (lhs: Node, rhs: Node) -> Bool { (lhs.host, lhs.port) < (rhs.host, rhs.port) }
    }

    /// The nodes discovery starts from.
    public var seeds: [Node]
    /// How many `MOVED` or `ASK` redirections one call follows before it
    /// throws (a slot that keeps moving is a cluster being resharded faster
    /// than it can be followed). Default 8.
    public var maxRedirects: Int
    /// How long a call keeps trying while nothing has been sent: the node
    /// owning its slot refuses connections, or answers `CLUSTERDOWN` or
    /// `TRYAGAIN`. This is what carries calls through a failover; make it
    /// longer than the cluster's `cluster-node-timeout` plus the election.
    /// A command that was sent and then lost its connection is never sent
    /// again (it may have run). Default 15 s.
    public var retryWindow: Duration

    /// A cluster reached through `seeds`.
    public init(seeds: [Node], maxRedirects: Int = 8, retryWindow: Duration = .seconds(15)) {
        self.seeds = seeds
        self.maxRedirects = max(0, maxRedirects)
        self.retryWindow = retryWindow
    }

    /// Reads a comma-separated list of `host:port` seeds, as
    /// `REDIS_CLUSTER_NODES` gives them (`10.0.0.5:6379,10.0.0.6:6379`,
    /// `[::1]:7000`; a missing port is 6379).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidConfiguration`` naming the bad entry.
    public init(nodes: String) throws(ScaleKitError) {
        try self.init(nodes: nodes, variable: nil)
    }

    /// As ``init(nodes:)``; the errors name `variable`.
    package init(nodes: String, variable: String?) throws(ScaleKitError) {
        let subject = variable ?? "the Redis Cluster node list"
        var seeds: [Node] = []
        for rawEntry in nodes.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(rawEntry).trimmingCharacters(in: .whitespaces)
            let shown = printable(String(entry.prefix(100)))
            func invalid(_ problem: String) -> ScaleKitError {
                ScaleKitError(.invalidConfiguration, "\(subject) has entry '\(shown)', which \(problem); expected host:port[,host:port…]")
            }
            guard !entry.isEmpty else { throw invalid("is empty") }
            var host: Substring
            var portText: Substring?
            if entry.hasPrefix("[") {
                guard let close = entry.firstIndex(of: "]") else { throw invalid("opens an IPv6 address it does not close") }
                host = entry[entry.index(after: entry.startIndex)..<close]
                let rest = entry[entry.index(after: close)...]
                if !rest.isEmpty {
                    guard rest.hasPrefix(":") else { throw invalid("has text after the IPv6 address") }
                    portText = rest.dropFirst()
                }
            } else if let colon = entry.lastIndex(of: ":") {
                host = entry[..<colon]
                portText = entry[entry.index(after: colon)...]
                guard !host.contains(":") else { throw invalid("is an IPv6 address without brackets") }
            } else {
                host = entry[...]
            }
            guard !host.isEmpty else { throw invalid("names no host") }
            guard host.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:%".contains($0) }) else {
                throw invalid("has a character that cannot be in a host name")
            }
            var port = RedisConnectionConfiguration.defaultPort
            if let portText {
                guard let value = Int(portText), (1...65_535).contains(value) else { throw invalid("has a port that is not 1…65535") }
                port = value
            }
            seeds.append(Node(host: String(host), port: port))
        }
        self.init(seeds: seeds)
    }

    /// The seeds, comma-separated.
    public var description: String { seeds.map(\.description).joined(separator: ",") }
}
