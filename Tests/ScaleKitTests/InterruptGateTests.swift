import Dispatch
import Glibc
@_spi(Benchmarks) @testable import ScaleKit
import Synchronization
import Testing

/// The gate that carries a task's cancellation to a connection's C library.
@Suite("Interrupt gate")
struct InterruptGateTests {
    final class Flag: Sendable {
        let value = Atomic<Int>(0)
    }

    /// An actor on its own queue, as the connections are.
    actor QueueActor {
        static let key = DispatchSpecificKey<Int>()
        let executor = DispatchQueueExecutor(label: "scalekit.tests.gate")
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        let gate = InterruptGate<Int>()

        init() { executor.queue.setSpecific(key: Self.key, value: 1) }

        func runsOnOwnQueue() async -> Bool {
            await gate.withInterruptOnCancel(target: 1, interrupt: { _ in }) {
                DispatchQueue.getSpecific(key: Self.key) == 1
            }
        }

        /// Blocks the actor's own thread (as a C call would) until `release` is set or the gate is interrupted.
        func block(until interrupted: Flag) async -> Bool {
            await gate.withInterruptOnCancel(target: 7, interrupt: { interrupted.value.store($0, ordering: .releasing) }) {
                while interrupted.value.load(ordering: .acquiring) == 0 { usleep(1000) }
                return gate.isRequested
            }
        }
    }

    /// The body is the caller's blocking work: it must stay on the caller's
    /// executor (the connection's queue), never move to the cooperative pool.
    @Test func bodyRunsOnTheCallersExecutor() async {
        #expect(await QueueActor().runsOnOwnQueue())
    }

    @Test func cancellationReachesTheTargetOfTheOpenUse() async {
        let actor = QueueActor()
        let interrupted = Flag()
        let task = Task { await actor.block(until: interrupted) }
        task.cancel()
        #expect(await task.value)
        #expect(interrupted.value.load(ordering: .acquiring) == 7)
    }

    /// Outside a use, or after the owner cleared the target, nothing is interrupted.
    @Test func noInterruptOutsideAUseOrWithoutTarget() async {
        let gate = InterruptGate<Int>()
        let hits = Flag()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await gate.withInterruptOnCancel(target: nil, interrupt: { _ in hits.value.add(1, ordering: .relaxed) }) {
                // Requested with no target: a later target is refused.
                (gate.isRequested, gate.retarget(3), gate.clearTarget().delivered)
            }
        }
        let (requested, retargeted, delivered) = await task.value
        #expect(requested && !retargeted && !delivered)
        #expect(hits.value.load(ordering: .relaxed) == 0)
        #expect(!gate.isRequested)
    }
}
