package import ScaleKit

/// Which master serves each of the 16 384 slots, as `CLUSTER SLOTS` reported it.
package struct RedisClusterTopology: Sendable, Equatable {
    package typealias Node = RedisClusterConfiguration.Node

    /// The masters, in the order first seen.
    package private(set) var masters: [Node] = []
    /// For each slot, an index into `masters`, or `unowned`.
    private var owners: [UInt16]
    private static let unowned = UInt16.max

    /// A map with no slot assigned.
    package init() { owners = Array(repeating: Self.unowned, count: RedisHashSlot.count) }

    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], replica…], …]`.
    /// An empty host means the host of the node that answered.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/protocolError`` for a reply of another shape.
    package init(slotsReply reply: RedisValue, answeredBy current: Node) throws(ScaleKitError) {
        self.init()
        guard let ranges = reply.array else { throw Self.malformed("is not an array") }
        for range in ranges {
            guard let fields = range.array, fields.count >= 3, let start = fields[0].integer, let end = fields[1].integer,
                0 <= start, start <= end, end < RedisHashSlot.count
            else { throw Self.malformed("has a slot range that is not [start, end, master, …] within 0…16383") }
            guard let master = fields[2].array, master.count >= 2, let host = master[0].string, let port = master[1].integer,
                (1...65_535).contains(port)
            else { throw Self.malformed("names a master that is not [host, port, …]") }
            let node = Node(host: host.isEmpty || host == "?" ? current.host : host, port: Int(port))
            for slot in Int(start)...Int(end) { assign(slot: slot, to: node) }
        }
    }

    private static func malformed(_ problem: String) -> ScaleKitError {
        ScaleKitError(.protocolError, "the reply to CLUSTER SLOTS \(problem)")
    }

    /// The master serving `slot`, if the map knows one.
    package func master(forSlot slot: Int) -> Node? {
        let index = owners[slot]
        return index == Self.unowned ? nil : masters[Int(index)]
    }

    /// Records that `slot` is served by `node` (a `MOVED` reply says so).
    package mutating func assign(slot: Int, to node: Node) {
        let index: Int
        if let known = masters.firstIndex(of: node) {
            index = known
        } else {
            masters.append(node)
            index = masters.count - 1
        }
        owners[slot] = UInt16(index)
    }

    /// How many slots have a master: 16 384 in a healthy cluster.
    package var coveredSlots: Int { owners.lazy.filter { $0 != Self.unowned }.count }

    /// Each master with the slot ranges it serves, for `scalekit doctor`.
    package var slotRanges: [(node: Node, ranges: [ClosedRange<Int>])] {
        var result: [Int: [ClosedRange<Int>]] = [:]
        var slot = 0
        while slot < owners.count {
            let owner = owners[slot]
            var end = slot
            while end + 1 < owners.count && owners[end + 1] == owner { end += 1 }
            if owner != Self.unowned { result[Int(owner), default: []].append(slot...end) }
            slot = end + 1
        }
        return result.keys.sorted().map { (masters[$0], result[$0]!) }
    }
}
