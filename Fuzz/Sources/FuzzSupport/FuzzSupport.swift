import CFuzzerDriver
import Foundation

/// Runs libFuzzer with the process's arguments, calling `body` for each input.
public func runFuzzer(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, body))
}

/// The input as bytes (libFuzzer passes nil for an empty input).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
}

/// Work a fuzz target runs in a task while libFuzzer's thread waits. A
/// subclass keeps in its stored properties what the run produced.
open class BlockingJob: @unchecked Sendable {
    public init() {}

    /// The work; everything it allocates should be made and dropped inside.
    open func run() async {}
}

/// Runs `job` in a task and blocks this (non-pool) thread until the task
/// has finished *and* let go of the job, then hands the job back.
///
/// libFuzzer checks for leaks whenever a run's mallocs and frees differ. A
/// plain "signal at the end of the task" returns while the task's closure is
/// still being torn down on another thread, and a check that lands in that
/// window reports what the closure held as leaked. Here the task holds only
/// the job, and this thread waits until it is the job's only owner again,
/// so everything of the run is freed on this thread, before it returns.
public func runBlocking<Job: BlockingJob>(_ job: consuming Job) -> Job {
    var owned = consume job
    let done = DispatchSemaphore(value: 0)
    Task { [owned] in
        await owned.run()
        done.signal()
    }
    done.wait()
    while !isKnownUniquelyReferenced(&owned) { sched_yield() }
    return owned
}
