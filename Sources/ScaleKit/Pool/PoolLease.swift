/// One connection handed out by the state machine, with what must happen
/// before the caller may use it.
struct PoolLease<Connection> {
    /// What the pool must do with a connection before the caller gets it.
    enum Check: Hashable, Sendable {
        /// Use it as it is: it was used a moment ago and is neither old nor stale.
        case none
        /// It has been idle longer than the pre-ping threshold: ping it first.
        case ping
        /// It is older than `pool_recycle` (jittered): close it and open a new one.
        case recycle
        /// It was opened before a connection that failed: close it and open a new one.
        case stale
    }

    /// The pool's number for this connection; later connections have larger numbers.
    var id: Int
    var connection: Connection
    var check: Check
}

/// What a checkout gets: a connection, or the right to open one in a reserved slot.
enum PoolGrant<Connection> {
    case lease(PoolLease<Connection>)
    /// A slot is reserved: call the factory, then report `connectionCreated` or `connectionCreationFailed`.
    case create
}

extension PoolLease: Sendable where Connection: Sendable {}
extension PoolGrant: Sendable where Connection: Sendable {}
