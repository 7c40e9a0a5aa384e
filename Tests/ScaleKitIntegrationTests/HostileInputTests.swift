import Foundation
import ScaleKitTestSupport
import Testing

/// Hostile input through the `scalekit` tool, as an operator or a script
/// would pass it: every refusal is a typed error with a documented exit
/// code, nothing crashes, no secret is printed and nothing stored changes.
/// (Configuration values, ids and JSON documents are also covered directly
/// by ConfigurationTests, the conformance suites and JSONMergePatchTests.)
@Suite struct HostileInputTests {
    /// Passwords in URLs, including ones pasted without percent-encoding,
    /// appear neither in `doctor`'s report nor in any log line (`--verbose`).
    @Test func doctorAndLogsNeverPrintPasswords() async throws {
        let folder = try TemporaryFolder()
        let closed = try SilentListener.closedPort()
        var cases: [[String: String]] = [
            ["REDIS_URL": "redis://alice:hunter2@127.0.0.1:\(closed)/0"],
            ["REDIS_URL": "redis://:hun/ter2@127.0.0.1:\(closed)/0"],
            ["REDIS_URL": "redis://:hunter2@127.0.0.1:\(closed)/-1"],
            ["REDIS_URL": "rediss://:hunter2@127.0.0.1:\(closed)/0"],
            ["DATABASE_URL": "postgresql://app:hunter2@127.0.0.1:\(closed)/videos"],
            ["DATABASE_URL": "postgresql://app:hun ter2@127.0.0.1:\(closed)/videos"],
            ["DATABASE_URL": "postgresql://app@127.0.0.1:\(closed)/videos?password=hunter2"],
            ["DATABASE_URL": "mysql://root:hunter2@db/x"],
        ]
        if let redis = TestServers.redisURL {
            // A real server refusing the password.
            cases.append(["REDIS_URL": redis.replacingOccurrences(of: "redis://", with: "redis://:hunter2@")])
        }
        for variables in cases {
            var environment = variables
            environment["API_TRACKER_FILE"] = folder.path("api.json")
            if environment["DATABASE_URL"] == nil { environment["DATABASE_URL"] = "sqlite:///\(folder.path("v.sqlite"))" }
            for arguments in [["doctor", "--verbose"], ["doctor", "--json", "--verbose"], ["usage", "--verbose"], ["claim", "v", "--verbose"]] {
                let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: arguments)
                let printed = result.standardOutput + result.standardError
                if arguments[0] == "doctor" {
                    #expect([1, 65].contains(result.status), "\(arguments) \(variables): exit \(result.status)\n\(printed)")
                } else {
                    #expect(!result.crashed, "\(arguments) \(variables) crashed:\n\(printed)")
                }
                #expect(!printed.contains("hunter2") && !printed.contains("ter2"), "\(arguments) printed a password:\n\(printed)")
            }
        }
    }

    /// Patches that are not objects, malformed, invalid for a status, deeply
    /// nested or huge (given inline or with `@file`) are refused with
    /// `invalidArgument` (exit 64), and the stored status is untouched.
    @Test(.enabled(if: TestServers.redisEnabled)) func statusMergeRefusesHostilePatchesAndKeepsTheStatus() async throws {
        let folder = try TemporaryFolder()
        let environment = [
            "REDIS_URL": try TestServers.requireRedisURL(), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
            "API_TRACKER_FILE": folder.path("api.json"),
        ]
        let id = "hostile \"job\"\r\n'; DROP TABLE x; -- ]] redis.call('FLUSHALL') \(UUID())"
        let first = try await ScaleKitProcesses.runOne(
            environment: environment, arguments: ["status", "merge", id, #"{"status":"processing","progress":0.25,"keep":{"a":[1,2]}}"#])
        #expect(first.status == 0, "\(first.standardError)")
        let stored = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["status", "get", id])

        let deep = folder.path("deep.json")
        try Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8).write(to: URL(fileURLWithPath: deep))
        let deepObject = folder.path("deep-object.json")
        try Data((String(repeating: #"{"a":"#, count: 5_000) + "1" + String(repeating: "}", count: 5_000)).utf8)
            .write(to: URL(fileURLWithPath: deepObject))
        let huge = folder.path("huge.json")
        try Data((#"{"blob":""# + String(repeating: "x", count: 3_000_000) + #""}"#).utf8).write(to: URL(fileURLWithPath: huge))
        let binary = folder.path("binary.json")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: binary))
        let patches = [
            "[1,2]", #""a string""#, "null", "42", "true", "{", #"{"a":1"#, "", #"{"a":1e999}"#, #"{"a":"\ud800"}"#,
            #"{"status":"bogus"}"#, #"{"progress":7}"#, #"{"progress":"half"}"#, #"{"updated_at":"2001-01-01T00:00:00Z"}"#,
            "@\(deep)", "@\(deepObject)", "@\(huge)", "@\(binary)",
        ]
        for patch in patches {
            let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["status", "merge", id, patch])
            #expect(
                !result.crashed && result.status == 64 && result.standardError.contains("invalidArgument"),
                "\(patch.prefix(60)): exit \(result.status) \(result.standardError)")
        }
        let missing = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["status", "merge", id, "@\(folder.path("none.json"))"])
        #expect(missing.status != 0 && missing.standardError.contains("ioError"))
        let tooLong = try await ScaleKitProcesses.runOne(
            environment: environment, arguments: ["status", "merge", String(repeating: "k", count: 2000), #"{"a":1}"#])
        #expect(tooLong.status == 64 && tooLong.standardError.contains("invalidArgument"))

        let after = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["status", "get", id])
        #expect(after.standardOutput == stored.standardOutput, "the stored status changed")
    }

    /// Over-long video ids are refused before anything is stored.
    @Test func overlongVideoIDsAreRefused() async throws {
        let folder = try TemporaryFolder()
        let environment = ["DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))", "API_TRACKER_FILE": folder.path("api.json")]
        let claim = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["claim", String(repeating: "v", count: 1025)])
        #expect(claim.status == 64 && claim.standardError.contains("invalidArgument"), "\(claim.standardError)")
        let videos = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["videos", "--json"])
        #expect(videos.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }
}
