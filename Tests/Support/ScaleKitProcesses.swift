public import Foundation
import ScaleKit
import Glibc
import Synchronization

/// Runs the `scalekit` executable as separate OS processes, to prove that
/// counts and claims hold across processes and not only across tasks.
public enum ScaleKitProcesses {
    /// The `scalekit` binary built beside the test bundle.
    public static var executable: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var folder = bundle
        // The test binary may sit inside a .xctest folder.
        while !folder.path.isEmpty, folder.path != "/" {
            let candidate = folder.appendingPathComponent("scalekit")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return bundle.appendingPathComponent("scalekit")
    }

    /// The result of one process.
    public struct Result: Sendable {
        /// The exit code, or the signal's number when ``crashed``.
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        /// Whether the process died of a signal (a trap, a segfault, a kill) instead of exiting.
        public var crashed = false

        /// Standard output decoded as a JSON object of integers (what `scalekit hammer` prints).
        public func counts() throws -> [String: Int] {
            guard let data = standardOutput.split(separator: "\n").last.map({ Data($0.utf8) }),
                let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { throw Failure(description: "not a JSON object: \(standardOutput) / \(standardError)") }
            return object.compactMapValues { $0 as? Int }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Starts `count` processes at once with `arguments(index)` and waits for all of them.
    /// The environment is exactly `environment` plus PATH and HOME, so the
    /// test's own environment cannot leak into the processes' configuration.
    public static func run(
        count: Int, environment: [String: String], arguments: @Sendable (Int) -> [String]
    ) async throws -> [Result] {
        var running: [Running] = []
        for index in 0..<count { running.append(try start(environment: environment, arguments: arguments(index))) }
        var results: [Result] = []
        for process in running { results.append(try await process.wait()) }
        return results
    }

    /// Runs one process and returns its result.
    public static func runOne(environment: [String: String], arguments: [String]) async throws -> Result {
        try await run(count: 1, environment: environment) { _ in arguments }[0]
    }

    /// Runs one process whose arguments are raw bytes (invalid UTF-8
    /// included), which `Process` cannot pass: a shell builds each argument
    /// from octal escapes with `printf` and `exec`s the tool.
    public static func runOne(environment: [String: String], argumentBytes: [[UInt8]]) async throws -> Result {
        let words = argumentBytes.map { bytes in
            "\"$(printf '" + bytes.map { "\\" + String($0, radix: 8) }.joined() + "')\""
        }
        var shellEnvironment = environment
        shellEnvironment["SCALEKIT_EXECUTABLE"] = executable.path
        let script = "exec \"$SCALEKIT_EXECUTABLE\" " + words.joined(separator: " ")
        return try await launch(URL(fileURLWithPath: "/bin/sh"), ["-c", script], environment: shellEnvironment).wait()
    }

    /// Runs `scalekit` through a launcher (`/usr/bin/faketime -f -1h`), which
    /// execs it with `arguments`, and returns its result.
    public static func runOne(launcher: [String], environment: [String: String], arguments: [String]) async throws -> Result {
        try await start(environment: environment, arguments: arguments, launcher: launcher).wait()
    }

    /// Starts one process and returns at once, so the test can watch its
    /// output and kill it mid-way (a worker that crashes).
    public static func start(environment: [String: String], arguments: [String], launcher: [String] = []) throws -> Running {
        if let program = launcher.first {
            return try launch(URL(fileURLWithPath: program), launcher.dropFirst() + [executable.path] + arguments, environment: environment)
        }
        return try launch(executable, arguments, environment: environment)
    }

    private static func launch(_ executable: URL, _ arguments: [String], environment: [String: String]) throws -> Running {
        var fullEnvironment = environment
        for name in ["PATH", "HOME", "TMPDIR", "TSAN_OPTIONS", "ASAN_OPTIONS", "LSAN_OPTIONS"] {
            fullEnvironment[name] = ProcessInfo.processInfo.environment[name]
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = fullEnvironment
        // Not the test's working directory (the repository): a default
        // relative path such as `api_usage.json` must never land there.
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let exited = Event()
        process.terminationHandler = { _ in exited.fire() }
        try process.run()
        return Running(process: process, exited: exited, output: output, error: error)
    }

    /// A `scalekit` process started by ``start(environment:arguments:)``.
    ///
    /// Nothing here blocks a thread of Swift's cooperative pool (which has
    /// only as many threads as cores: a test blocked in `waitUntilExit` or a
    /// pipe read stalls every other test's tasks): the pipes are drained by
    /// threads of their own, and the exit is signalled by Process's
    /// termination handler.
    public final class Running: Sendable {
        private let process: SendableProcess
        private let exited: Event
        private let output: Drain
        private let error: Drain

        init(process: Process, exited: Event, output: Pipe, error: Pipe) {
            self.process = SendableProcess(process: process)
            self.exited = exited
            self.output = Drain(output.fileHandleForReading)
            self.error = Drain(error.fileHandleForReading)
        }

        /// The process id.
        public var pid: Int32 { process.process.processIdentifier }

        /// Waits until standard output holds a complete first line and returns it.
        public func firstLine() async throws -> String {
            while true {
                let (data, ended) = output.snapshot()
                if let newline = data.firstIndex(of: UInt8(ascii: "\n")) {
                    return String(decoding: data[..<newline], as: UTF8.self)
                }
                if ended {
                    throw Failure(description: "the process ended before printing a line; output: \(String(decoding: data, as: UTF8.self))")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        /// Sends `signal` (SIGKILL: a crash, no cleanup) and waits for the process to end.
        public func kill(_ signal: Int32) async {
            Glibc.kill(pid, signal)
            await exited.wait()
        }

        /// Waits for the process to end and returns everything it printed.
        public func wait() async throws -> Result {
            await exited.wait()
            await output.ended.wait()
            await error.ended.wait()
            return Result(
                status: process.process.terminationStatus, standardOutput: String(decoding: output.snapshot().data, as: UTF8.self),
                standardError: String(decoding: error.snapshot().data, as: UTF8.self),
                crashed: process.process.terminationReason == .uncaughtSignal)
        }
    }

    /// `Process` is thread-safe for what ``Running`` does with it once it runs (pid, status).
    struct SendableProcess: @unchecked Sendable {
        let process: Process
    }

    /// Something that happens once; tasks wait for it without blocking a thread.
    final class Event: Sendable {
        private let state = SanitizerVisibleMutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func fire() {
            let waiters = state.withLock { state in
                state.fired = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        func wait() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let fired = state.withLock { state in
                    if !state.fired { state.waiters.append(continuation) }
                    return state.fired
                }
                if fired { continuation.resume() }
            }
        }
    }

    /// Reads one pipe to its end on a thread of its own, keeping everything read.
    final class Drain: Sendable {
        private let state = SanitizerVisibleMutex<Data>(Data())
        /// Fired when the pipe reached its end.
        let ended = Event()
        private let isEnded = Atomic<Bool>(false)

        init(_ handle: FileHandle) {
            let sendableHandle = SendableHandle(handle: handle)
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = sendableHandle.handle.availableData
                    if chunk.isEmpty { break }
                    state.withLock { $0.append(chunk) }
                }
                isEnded.store(true, ordering: .releasing)
                ended.fire()
            }
        }

        func snapshot() -> (data: Data, ended: Bool) {
            let ended = isEnded.load(ordering: .acquiring)
            return (state.withLock { $0 }, ended)
        }
    }

    /// A reading end used by exactly one drain thread.
    struct SendableHandle: @unchecked Sendable {
        let handle: FileHandle
    }
}
