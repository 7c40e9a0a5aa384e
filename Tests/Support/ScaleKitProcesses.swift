public import Foundation

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
        public var status: Int32
        public var standardOutput: String
        public var standardError: String

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
    }

    /// Starts `count` processes at once with `arguments(index)` and waits for all of them.
    /// The environment is exactly `environment` plus PATH and HOME, so the
    /// test's own environment cannot leak into the processes' configuration.
    /// Output goes to temporary files and the waiting happens off the
    /// cooperative pool, so the other tests of the run keep their threads.
    public static func run(
        count: Int, environment: [String: String], arguments: @Sendable (Int) -> [String]
    ) async throws -> [Result] {
        var fullEnvironment = environment
        for name in ["PATH", "HOME", "TMPDIR"] { fullEnvironment[name] = ProcessInfo.processInfo.environment[name] }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-processes-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let launches = (0..<count).map { index in
            (arguments(index), folder.appendingPathComponent("\(index).out"), folder.appendingPathComponent("\(index).err"))
        }
        let environment = fullEnvironment
        return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            for (index, (arguments, out, err)) in launches.enumerated() {
                group.addTask {
                    let result = try await offThePool { try runToCompletion(arguments, environment, out, err) }
                    return (index, result)
                }
            }
            var results: [Result?] = Array(repeating: nil, count: count)
            for try await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    private static func runToCompletion(_ arguments: [String], _ environment: [String: String], _ out: URL, _ err: URL) throws -> Result {
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: try Data(contentsOf: out), as: UTF8.self),
            standardError: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    /// Runs one process and returns its result.
    public static func runOne(environment: [String: String], arguments: [String]) async throws -> Result {
        try await run(count: 1, environment: environment) { _ in arguments }[0]
    }
}
