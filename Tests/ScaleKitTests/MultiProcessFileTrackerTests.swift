import Foundation
import ScaleKitTestSupport
import Testing

/// Four OS processes hammer one file tracker: flock must make their
/// read-modify-write cycles exclusive, so no count is lost or overshot.
@Suite struct MultiProcessFileTrackerTests {
    @Test func countsAddUpAcrossProcesses() async throws {
        let folder = try TemporaryFolder()
        let environment = [
            "API_TRACKER_FILE": folder.path("api_usage.json"),
            "RAPIDAPI_DAILY_LIMIT": "1000000", "RAPIDAPI_HOURLY_LIMIT": "1000000",
        ]
        let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
            ["hammer", "api", "--calls", "500", "--tasks", "4"]
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let allowed = try results.map { try $0.counts()["allowed"] ?? -1 }.reduce(0, +)
        #expect(allowed == 2000)
        let usage = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(usage.standardOutput.utf8)) as? [String: Any]
        #expect(object?["totalCalls"] as? Int == 2000)
        #expect(object?["hourCount"] as? Int == 2000)
        #expect(object?["successes"] as? Int == 2000)
    }

    @Test func hourlyLimitHoldsAcrossProcesses() async throws {
        let folder = try TemporaryFolder()
        let environment = ["API_TRACKER_FILE": folder.path("api_usage.json"), "RAPIDAPI_HOURLY_LIMIT": "20"]
        let results = try await ScaleKitProcesses.run(count: 4, environment: environment) { _ in
            ["hammer", "api", "--calls", "50", "--tasks", "5"]
        }
        for result in results { #expect(result.status == 0, "\(result.standardError)") }
        let counts = try results.map { try $0.counts() }
        #expect(counts.map { $0["allowed"] ?? 0 }.reduce(0, +) == 20)
        #expect(counts.map { $0["denied"] ?? 0 }.reduce(0, +) == 180)
    }
}
