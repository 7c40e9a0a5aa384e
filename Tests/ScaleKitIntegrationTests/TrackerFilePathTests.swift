import Foundation
import ScaleKit
import ScaleKitTestSupport
import Testing

/// `API_TRACKER_FILE` that is a link, a directory or a device.
@Suite struct TrackerFilePathTests {
    /// Counts through the link and through its target land in one file under
    /// one lock, and the link stays a link.
    @Test func aSymbolicLinkIsResolvedAndItsTargetWritten() async throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.path("data"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.path("link.json"), withDestinationPath: "data/api.json")
        let viaLink = FileAPITracker(path: folder.path("link.json"))
        let viaTarget = FileAPITracker(path: folder.path("data/api.json"))
        for _ in 0..<3 {
            _ = try await viaLink.checkAndCount()
            _ = try await viaTarget.checkAndCount()
        }
        #expect(try await viaLink.usage().dayCount == 6)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.path("link.json")) == "data/api.json")
        #expect(!FileManager.default.fileExists(atPath: folder.path("link.json.lock")), "the link got a lock of its own")

        let result = try await ScaleKitProcesses.runOne(
            environment: ["API_TRACKER_FILE": folder.path("link.json"), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"], arguments: ["acquire"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try await viaTarget.usage().dayCount == 7)
    }

    @Test func aDirectoryOrADeviceGivesTheRealReason() async throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.path("dir.json"), withIntermediateDirectories: true)
        for (path, reason) in [(folder.path("dir.json"), "EISDIR"), ("/dev/zero", "not a regular file")] {
            let error = await #expect(throws: ScaleKitError.self) { try await FileAPITracker(path: path).usage() }
            #expect(error?.code == .ioError && error?.message.contains(reason) == true, "\(String(describing: error))")
            let result = try await ScaleKitProcesses.runOne(
                environment: ["API_TRACKER_FILE": path, "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"], arguments: ["acquire"])
            #expect(!result.crashed && result.status == 1 && result.standardError.contains(reason), "\(result.standardError)")
            #expect(!result.standardError.contains("NSCocoaErrorDomain"))
            #expect(!FileManager.default.fileExists(atPath: path + ".lock"), "a lock file was created beside \(path)")
        }
    }
}
