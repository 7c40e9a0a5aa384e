import Foundation
import Logging
import ScaleKit
import ScaleKitServices
import ScaleKitTestSupport
import Testing

/// Commands build only the backends they use.
@Suite struct BackendNeedsTests {
    private static let unopenableSQLite = "sqlite:////nonexistent-\(UUID())/videos.sqlite"

    @Test func onlyTheNeededBackendsAreBuilt() async throws {
        let folder = try TemporaryFolder()
        let configuration = try ScaleKitConfiguration(
            environment: ["DATABASE_URL": Self.unopenableSQLite, "API_TRACKER_FILE": folder.path("api.json")])
        let backends = try await ScaleKitBackends.make(configuration, needs: .apiTracker, logger: Logger(label: "test"))
        #expect(backends.choices.map(\.primitive) == ["API tracker"])
        #expect(try await backends.apiTracker.checkAndCount().isAllowed)
        let error = await #expect(throws: ScaleKitError.self) { try await backends.videos.video(id: "v") }
        #expect(error?.code == .unsupported)
        await #expect(throws: ScaleKitError.self) { try await ScaleKitBackends.make(configuration, logger: Logger(label: "test")) }
    }

    @Test func apiAndStatusCommandsWorkWhenTheVideosDatabaseCannotBeOpened() async throws {
        let folder = try TemporaryFolder()
        let environment = ["DATABASE_URL": Self.unopenableSQLite, "API_TRACKER_FILE": folder.path("api.json")]
        for arguments in [["acquire"], ["record", "success"], ["usage"], ["status", "merge", "job", "{}"]] {
            let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: arguments)
            #expect(result.status == 0, "\(arguments): exit \(result.status) \(result.standardError)")
        }
        let claim = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["claim", "v"])
        #expect(claim.status == 1 && claim.standardError.contains("SQLite"))
    }

    /// The tool's default tracker file is relative to its working directory;
    /// the test processes never run in the repository, so nothing lands there.
    @Test func toolProcessesWriteNothingIntoTheTestsWorkingDirectory() async throws {
        let here = FileManager.default.currentDirectoryPath
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: here))
        let folder = try TemporaryFolder()
        let result = try await ScaleKitProcesses.runOne(environment: ["DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"], arguments: ["usage"])
        #expect(result.status == 0, "\(result.standardError)")
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: here))
        #expect(after.subtracting(before).isEmpty, "written into \(here): \(after.subtracting(before))")
    }
}
