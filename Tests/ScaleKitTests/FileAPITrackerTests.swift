import Foundation
import ScaleKit
import ScaleKitTesting
import Testing

@Suite struct FileAPITrackerTests {
    @Test func conformance() async throws {
        let folder = try TemporaryFolder()
        try await APITrackingConformance.run { limits, clock in
            FileAPITracker(path: folder.path("\(UUID()).json"), configuration: APITrackerConfiguration(limits: limits), clock: clock)
        }
    }

    @Test func quotas() async throws {
        let folder = try TemporaryFolder()
        try await QuotaConformance.run { quotas, clock in
            FileAPITracker(path: folder.path("\(UUID()).json"), configuration: APITrackerConfiguration(extraQuotas: quotas), clock: clock)
        }
    }

    @Test func aFileFromBeforeNamedQuotasKeepsItsCounts() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("api_usage.json")
        try Data(#"{"version":1,"windows":{"day:2026-01-01":7,"hour:2026-01-01-00":2},"total_requests":9,"successful_requests":1,"failed_requests":0,"denied_requests":3}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let tracker = FileAPITracker(path: path, clock: ManualWallClock())
        let decision = try await tracker.checkAndCount()
        #expect(decision.isAllowed && decision.usage.dayCount == 8 && decision.usage.hourCount == 3 && decision.usage.totalCalls == 10)
        #expect(decision.usage.denied == 3 && decision.usage.successes == 1)
    }

    @Test func corruptFileIsATypedErrorAndStaysUntouched() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("api_usage.json")
        let garbage = Data("{\"windows\": {\"day:2026-01-01\": 5".utf8)
        try garbage.write(to: URL(fileURLWithPath: path))
        let tracker = FileAPITracker(path: path, clock: ManualWallClock())
        for operation in [0, 1, 2] {
            let error = await #expect(throws: ScaleKitError.self) {
                switch operation {
                case 0: _ = try await tracker.checkAndCount()
                case 1: try await tracker.recordOutcome(.success)
                default: _ = try await tracker.usage()
                }
            }
            #expect(error?.code == .corruptData)
            #expect(error?.message.contains(path) == true)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test func negativeCountersAreCorrupt() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("api_usage.json")
        try Data(#"{"version":1,"windows":{},"total_requests":-4,"successful_requests":0,"failed_requests":0,"denied_requests":0}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: ScaleKitError.self) { try await FileAPITracker(path: path).usage() }
        #expect(error?.code == .corruptData)
    }

    @Test func unwritableFolderIsAnIOError() async throws {
        let tracker = FileAPITracker(path: "/nonexistent-folder-\(UUID())/api_usage.json")
        let error = await #expect(throws: ScaleKitError.self) { try await tracker.checkAndCount() }
        #expect(error?.code == .ioError)
    }

    @Test func fileIsReadableJSONWithTheSeedsNames() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("api_usage.json")
        let tracker = FileAPITracker(path: path, clock: ManualWallClock())
        _ = try await tracker.checkAndCount()
        try await tracker.recordOutcome(.success)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        #expect(object?["total_requests"] as? Int == 1)
        #expect(object?["successful_requests"] as? Int == 1)
        #expect((object?["windows"] as? [String: Int])?["hour:2026-01-01-00"] == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }
}

/// A folder removed when the value is deinitialised.
final class TemporaryFolder: Sendable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-tests-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}
