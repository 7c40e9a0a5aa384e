import Synchronization

/// A `Mutex` whose hand-overs ThreadSanitizer can see.
///
/// On Linux a contended `Mutex` passes ownership inside the kernel
/// (`FUTEX_LOCK_PI`, in the uninstrumented standard library), so
/// ThreadSanitizer sees no ordering between two threads' critical sections
/// and reports their accesses to the protected value as a race. Each
/// critical section here starts with an acquiring load and ends with a
/// releasing add on an atomic that TSan does instrument, which states the
/// order the lock already guarantees. The cost is a few nanoseconds; the
/// locking itself is `Mutex`'s.
///
/// Use it for state that tasks contend for (pool state, test doubles) so
/// `swift test --sanitize=thread` reports real races only.
package struct SanitizerVisibleMutex<Value: ~Copyable>: ~Copyable, Sendable {
    private let mutex: Mutex<Value>
    private let handoff = Atomic<Int>(0)

    package init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with exclusive access to the value (blocks while another thread holds it).
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            _ = handoff.load(ordering: .acquiring)
            defer { handoff.wrappingAdd(1, ordering: .releasing) }
            return try body(&value)
        }
    }
}
