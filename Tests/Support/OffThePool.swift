import Dispatch

/// Runs blocking test plumbing (waiting for a process, polling a port) on a
/// dispatch queue of its own, so it never holds one of the cooperative
/// pool's few threads while every other test in the run needs them.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let queue = DispatchQueue(label: "scalekit.tests.blocking")
    return try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result { try body() }) }
    }
}
