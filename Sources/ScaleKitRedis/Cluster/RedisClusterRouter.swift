import Logging
import Metrics
import ScaleKit

/// Sends each call to the master that serves its key's slot, and follows
/// the cluster when slots move or a master fails over.
///
/// One multiplexed connection and one connection pool per master (made when
/// the node is first used), one
/// slot map shared by every call. The map is loaded with `CLUSTER SLOTS`
/// from any node that answers (known masters first, then the seeds), once
/// for every caller that needs it at the same moment.
///
/// What a call does with each answer:
/// - `MOVED`: the slot has a new owner; the map learns it and the call goes there.
/// - `ASK`: one key is mid-migration; the call goes to the importing node
///   once, each command preceded by `ASKING`, and the map is left alone.
/// - `CLUSTERDOWN`, `TRYAGAIN`, or a node that refuses the connection
///   before anything was sent: the map is reloaded and the call tried
///   again after a short pause, until ``RedisClusterConfiguration/retryWindow``
///   runs out. This carries calls through a failover.
/// - A connection lost after the command was sent: the map is marked stale
///   and the call throws; it is never sent twice (it may have run).
final class RedisClusterRouter: Sendable {
    typealias Node = RedisClusterConfiguration.Node

    let cluster: RedisClusterConfiguration
    private let template: RedisConnectionConfiguration
    private let poolConfiguration: ConnectionPoolConfiguration
    private let name: String
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let state = SanitizerVisibleMutex(State())

    private struct State {
        var topology = RedisClusterTopology()
        var pools: [Node: ConnectionPool<RedisConnection>] = [:]
        var multiplexed: [Node: RedisMultiplexedConnection] = [:]
        var refresh: Task<RedisClusterTopology, any Error>?
        /// Reload the map before routing the next call.
        var isStale = true
        var isShutDown = false
    }

    init(
        cluster: RedisClusterConfiguration, template: RedisConnectionConfiguration, pool: ConnectionPoolConfiguration,
        name: String, logger: Logger, metricsFactory: any MetricsFactory
    ) {
        self.cluster = cluster
        self.template = template
        self.poolConfiguration = pool
        self.name = name
        self.logger = logger
        self.metricsFactory = metricsFactory
    }

    /// Leases a connection to the master serving `slot` (any master for `nil`)
    /// for `body`, following redirections and failovers as described above.
    /// `body` may run more than once, but only after a run that sent nothing
    /// or was redirected (a redirected command did not run).
    func withConnection<R>(
        slot: Int?, isolation: isolated (any Actor)? = #isolation, _ body: (RedisConnection) async throws -> R
    ) async throws -> R {
        try await route(slot: slot, isolation: isolation) { target, isAsking, sent in
            try await pool(for: target).withConnection(isolation: isolation) { connection in
                if isAsking { await connection.beginAsking() }
                sent.isSent = true
                do {
                    let result = try await body(connection)
                    if isAsking { await connection.endAsking() }
                    return result
                } catch {
                    if isAsking { await connection.endAsking() }
                    throw error
                }
            }
        }
    }

    /// Runs `body` with the multiplexed connection to the master serving
    /// `slot` (any master for `nil`), following redirections and failovers
    /// as ``withConnection(slot:isolation:_:)`` does.
    func withExecutor<R>(
        slot: Int?, isolation: isolated (any Actor)? = #isolation, _ body: (any RedisCommandExecutor) async throws -> R
    ) async throws -> R {
        try await route(slot: slot, isolation: isolation) { target, isAsking, sent in
            let connection = try multiplexedConnection(for: target)
            // A node that cannot be reached fails here, before anything is sent: that may be retried.
            try await connection.connectIfNeeded()
            sent.isSent = true
            return try await body(isAsking ? RedisAskingExecutor(base: connection) : connection)
        }
    }

    /// Whether an attempt got as far as sending (a transport failure after that is never retried).
    final class SendMark {
        var isSent = false
    }

    /// The redirection and retry loop shared by both kinds of call.
    private func route<R>(
        slot: Int?, isolation: isolated (any Actor)?, _ attempt: (Node, Bool, SendMark) async throws -> R
    ) async throws -> R {
        let deadline = ContinuousClock.now.advanced(by: cluster.retryWindow)
        var redirects = 0
        var asking: Node?
        var pause = Duration.milliseconds(20)
        while true {
            var node: Node?
            let sent = SendMark()
            do {
                let target: Node
                if let asking { target = asking } else { target = try await master(forSlot: slot) }
                node = target
                return try await attempt(target, asking != nil, sent)
            } catch let error as ScaleKitError {
                if let node, let redirect = RedisRedirect(error, answeredBy: node) {
                    redirects += 1
                    guard redirects <= cluster.maxRedirects else {
                        throw ScaleKitError(
                            .serverError,
                            "the Redis Cluster redirected a call \(redirects) times (last: \(redirect.kind == .moved ? "MOVED" : "ASK") "
                                + "slot \(redirect.slot) to \(redirect.node)); the slot is moving faster than it can be followed",
                            nativeCode: error.nativeCode)
                    }
                    switch redirect.kind {
                    case .moved:
                        state.withLock { $0.topology.assign(slot: redirect.slot, to: redirect.node) }
                        asking = nil
                    case .ask:
                        asking = redirect.node
                    }
                    continue
                }
                asking = nil
                let clusterBusy = error.code == .serverError && (error.nativeCode == "CLUSTERDOWN" || error.nativeCode == "TRYAGAIN")
                let transport = error.code == .connectionFailed || error.code == .timeout || error.code == .connectionClosed
                if clusterBusy || transport { state.withLock { $0.isStale = true } }
                guard clusterBusy || (transport && !sent.isSent), ContinuousClock.now < deadline else { throw error }
                logger.debug(
                    "Redis Cluster call retried", metadata: ["node": "\(node.map(String.init(describing:)) ?? "?")", "error": "\(error)"])
                do { try await Task.sleep(for: pause) } catch {
                    throw ScaleKitError(.cancelled, "the task was cancelled while the Redis Cluster call waited to be retried")
                }
                pause = min(pause * 2, .milliseconds(500))
            }
        }
    }

    /// The master for `slot` from the map, reloading the map first when it is stale or does not know one.
    private func master(forSlot slot: Int?) async throws(ScaleKitError) -> Node {
        func lookup(_ topology: RedisClusterTopology) -> Node? {
            slot.map { topology.master(forSlot: $0) } ?? topology.masters.first
        }
        let (known, isStale) = state.withLock { (lookup($0.topology), $0.isStale) }
        if let known, !isStale { return known }
        let topology = try await refresh()
        guard let node = lookup(topology) else {
            throw ScaleKitError(
                .serverError,
                "no master of the Redis Cluster serves slot \(slot.map(String.init) ?? "any") "
                    + "(\(topology.coveredSlots) of \(RedisHashSlot.count) slots are covered)",
                nativeCode: "CLUSTERDOWN")
        }
        return node
    }

    /// Loads the slot map again (one load for every caller waiting at the same moment) and returns it.
    func refresh() async throws(ScaleKitError) -> RedisClusterTopology {
        let task = state.withLock { state -> Task<RedisClusterTopology, any Error> in
            if let running = state.refresh { return running }
            var candidates = state.topology.masters
            for seed in cluster.seeds where !candidates.contains(seed) { candidates.append(seed) }
            let task = Task { try await self.discover(from: candidates) }
            state.refresh = task
            return task
        }
        do {
            let topology = try await task.value
            state.withLock { state in
                guard state.refresh == task else { return }
                state.refresh = nil
                state.topology = topology
                state.isStale = false
            }
            return topology
        } catch {
            state.withLock { state in if state.refresh == task { state.refresh = nil } }
            throw error as? ScaleKitError ?? ScaleKitError(.connectionFailed, "loading the Redis Cluster's slot map failed", underlying: error)
        }
    }

    private func discover(from candidates: [Node]) async throws(ScaleKitError) -> RedisClusterTopology {
        var lastError: ScaleKitError?
        for node in candidates {
            do {
                let reply = try await pool(for: node).withConnection { connection in try await connection.send("CLUSTER", "SLOTS") }
                let topology = try RedisClusterTopology(slotsReply: reply, answeredBy: node)
                if topology.masters.isEmpty {
                    lastError = ScaleKitError(.serverError, "\(node) reports no slot assigned", nativeCode: "CLUSTERDOWN")
                    continue
                }
                logger.debug(
                    "Redis Cluster slot map loaded",
                    metadata: ["from": "\(node)", "masters": "\(topology.masters.count)", "covered": "\(topology.coveredSlots)"])
                return topology
            } catch let error as ScaleKitError {
                lastError = error
            } catch {
                lastError = ScaleKitError(.connectionFailed, "asking \(node) for the slot map failed", underlying: error)
            }
        }
        let last = lastError.map { ": the last one said \($0.message)" } ?? ""
        throw ScaleKitError(
            lastError?.code == .poolShutDown ? .poolShutDown : .connectionFailed,
            "no node of the Redis Cluster (\(candidates.map(String.init(describing:)).joined(separator: ","))) answered CLUSTER SLOTS\(last)",
            nativeCode: lastError?.nativeCode)
    }

    /// The pool for `node`, made on first use.
    private func pool(for node: Node) throws(ScaleKitError) -> ConnectionPool<RedisConnection> {
        try state.withLock { state throws(ScaleKitError) -> ConnectionPool<RedisConnection> in
            if state.isShutDown { throw ScaleKitError(.poolShutDown, "the Redis Cluster client \(name) was shut down") }
            if let pool = state.pools[node] { return pool }
            var nodeConfiguration = template
            nodeConfiguration.endpoint = .tcp(host: node.host, port: node.port)
            nodeConfiguration.database = 0
            let configuration = nodeConfiguration
            let logger = logger
            let label = "\(node.host)_\(node.port)".map { $0.isLetter || $0.isNumber ? $0 : "_" }
            let pool = ConnectionPool<RedisConnection>(
                configuration: poolConfiguration, name: "\(name).\(String(label))", logger: logger, metricsFactory: metricsFactory
            ) {
                try await RedisConnection.connect(configuration: configuration, logger: logger)
            }
            state.pools[node] = pool
            return pool
        }
    }

    /// The multiplexed connection to `node`, made on first use.
    private func multiplexedConnection(for node: Node) throws(ScaleKitError) -> RedisMultiplexedConnection {
        try state.withLock { state throws(ScaleKitError) -> RedisMultiplexedConnection in
            if state.isShutDown { throw ScaleKitError(.poolShutDown, "the Redis Cluster client \(name) was shut down") }
            if let connection = state.multiplexed[node] { return connection }
            var nodeConfiguration = template
            nodeConfiguration.endpoint = .tcp(host: node.host, port: node.port)
            nodeConfiguration.database = 0
            let connection = RedisMultiplexedConnection(configuration: nodeConfiguration, logger: logger)
            state.multiplexed[node] = connection
            return connection
        }
    }

    /// The counts of every node's pool, added up (`size` is the sum of the pools' sizes).
    func statistics() -> ConnectionPoolStatistics {
        let pools = state.withLock { Array($0.pools.values) }
        var total = ConnectionPoolStatistics(size: 0)
        for pool in pools {
            let figures = pool.statistics()
            total.size += figures.size
            total.checkedIn += figures.checkedIn
            total.checkedOut += figures.checkedOut
            total.opening += figures.opening
            total.closing += figures.closing
            total.waiters += figures.waiters
            total.created += figures.created
            total.closed += figures.closed
            total.timeouts += figures.timeouts
        }
        return total
    }

    /// Shuts every node's pool down; later calls throw `poolShutDown`.
    func shutdown() async {
        let (pools, multiplexed) = state.withLock { state in
            state.isShutDown = true
            return (Array(state.pools.values), Array(state.multiplexed.values))
        }
        for connection in multiplexed { connection.close() }
        for pool in pools { await pool.shutdown() }
    }
}
