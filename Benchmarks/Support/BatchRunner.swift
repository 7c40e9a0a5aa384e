// Helpers shared by the server benchmarks: a batch of calls spread over
// tasks, and a Service's run() kept alive for the length of one benchmark.

public import ServiceLifecycle
import Synchronization

/// Runs `operations` calls of `body` spread evenly over `tasks` child tasks;
/// `body` gets the task's number and the call's number within that task.
/// Throws the first error a call throws.
public func runBatch(
    operations: Int, tasks: Int, _ body: @escaping @Sendable (_ task: Int, _ call: Int) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            group.addTask {
                for call in 0..<(operations / tasks) { try await body(task, call) }
            }
        }
        try await group.waitForAll()
    }
}

/// Runs a `Service` (a pool with its shared waiter timer, as in an
/// application's ServiceGroup) until ``stop()``.
public final class ServiceRunner: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    public init() {}

    /// Starts `service.run()`; a second call replaces nothing and starts nothing.
    public func start(_ service: some Service) {
        task.withLock { current in
            guard current == nil else { return }
            current = Task { try? await service.run() }
        }
    }

    /// Cancels `run()` (the service shuts down) and waits for it to return.
    public func stop() async {
        let running = task.withLock { current in
            defer { current = nil }
            return current
        }
        running?.cancel()
        await running?.value
    }
}
