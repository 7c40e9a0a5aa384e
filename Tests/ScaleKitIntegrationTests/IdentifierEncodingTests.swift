import Foundation
import Logging
import ScaleKit
import ScaleKitServices
import ScaleKitTestSupport
import Testing

/// Ids are bytes the caller chose: bytes that are not valid UTF-8 are
/// refused (`invalidArgument`, exit 64), never repaired into U+FFFD, so two
/// different byte strings can never name the same status or claim.
@Suite struct IdentifierEncodingTests {
    @Test func rawBytesAreDecodedStrictly() throws {
        #expect(try Identifier.decode(Array("job-é".utf8), kind: "job id") == "job-é")
        for bytes in [[0x6A, 0xFF], [0x6A, 0xC0], [0xED, 0xA0, 0x80]] as [[UInt8]] {
            let error = #expect(throws: ScaleKitError.self) { try Identifier.decode(bytes, kind: "job id") }
            #expect(error?.code == .invalidArgument && error?.message.contains("UTF-8") == true)
        }
    }

    /// Every backend the environment offers (in-memory and SQLite always; Redis and PostgreSQL when running).
    @Test func everyBackendRefusesTheReplacementCharacter() async throws {
        let folder = try TemporaryFolder()
        var environments = [["API_TRACKER_FILE": folder.path("api.json"), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"]]
        if let redis = TestServers.redisURL { environments.append(["REDIS_URL": redis, "DATABASE_URL": "sqlite:///\(folder.path("v2.sqlite"))"]) }
        if let postgres = TestServers.databaseURL { environments.append(["DATABASE_URL": postgres, "API_TRACKER_FILE": folder.path("api.json")]) }
        let repaired = String(decoding: [0x6A, 0x6F, 0x62, 0xFF], as: UTF8.self)  // what a lossy decode of job\xff gives
        for environment in environments {
            let configuration = try ScaleKitConfiguration(environment: environment)
            try await ScaleKitBackends.withBackends(configuration, logger: Logger(label: "test")) { backends in
                let statusError = await #expect(throws: ScaleKitError.self) { try await backends.statusTracker.mergeStatus(["a": 1], for: repaired) }
                #expect(statusError?.code == .invalidArgument, "\(backends.choices)")
                let claimError = await #expect(throws: ScaleKitError.self) { try await backends.videos.claimVideo(id: repaired) }
                #expect(claimError?.code == .invalidArgument, "\(backends.choices)")
            }
        }
        let memory = InMemoryVideoRepository()
        await #expect(throws: ScaleKitError.self) { try await memory.claimVideo(id: "v\u{FFFD}") }
    }

    @Test func theToolRefusesArgumentsThatAreNotUTF8() async throws {
        let folder = try TemporaryFolder()
        let environment = ["API_TRACKER_FILE": folder.path("api.json"), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"]
        for arguments in [
            [Array("claim".utf8), [0x76, 0xFF]], [Array("claim".utf8), [0x76, 0xC0]],
            [Array("status".utf8), Array("get".utf8), [0x6A, 0xFF]], [Array("status".utf8), Array("delete".utf8), [0x6A, 0xC0, 0xAF]],
        ] {
            let result = try await ScaleKitProcesses.runOne(environment: environment, argumentBytes: arguments)
            #expect(!result.crashed && result.status == 64, "exit \(result.status): \(result.standardError)")
            #expect(result.standardError.contains("invalidArgument") && result.standardError.contains("not valid UTF-8"), "\(result.standardError)")
        }
        let videos = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["videos", "--json"])
        #expect(videos.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let valid = try await ScaleKitProcesses.runOne(environment: environment, argumentBytes: [Array("claim".utf8), Array("vidéo".utf8)])
        #expect(valid.status == 0, "\(valid.standardError)")
    }
}
