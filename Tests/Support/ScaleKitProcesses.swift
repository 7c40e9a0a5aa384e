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
    public static func run(
        count: Int, environment: [String: String], arguments: @Sendable (Int) -> [String]
    ) async throws -> [Result] {
        var processes: [(Process, Pipe, Pipe)] = []
        var fullEnvironment = environment
        for name in ["PATH", "HOME", "TMPDIR"] { fullEnvironment[name] = ProcessInfo.processInfo.environment[name] }
        for index in 0..<count {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments(index)
            process.environment = fullEnvironment
            let output = Pipe()
            let error = Pipe()
            process.standardOutput = output
            process.standardError = error
            processes.append((process, output, error))
        }
        for (process, _, _) in processes { try process.run() }
        var results: [Result] = []
        for (process, output, error) in processes {
            // Read both pipes before waiting, so a full pipe cannot block the child.
            async let outData = readAll(output)
            async let errData = readAll(error)
            let (out, err) = try await (outData, errData)
            process.waitUntilExit()
            results.append(Result(status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self), standardError: String(decoding: err, as: UTF8.self)))
        }
        return results
    }

    /// Runs one process and returns its result.
    public static func runOne(environment: [String: String], arguments: [String]) async throws -> Result {
        try await run(count: 1, environment: environment) { _ in arguments }[0]
    }

    private static func readAll(_ pipe: Pipe) async throws -> Data {
        let handle = pipe.fileHandleForReading
        return try await Task.detached { try handle.readToEnd() ?? Data() }.value
    }
}
