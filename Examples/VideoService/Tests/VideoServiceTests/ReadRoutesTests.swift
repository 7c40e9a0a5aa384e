import Foundation
import Hummingbird
import HummingbirdTesting
import ScaleKit
import ScaleKitServices
import Testing

@testable import VideoService

@Suite struct ReadRoutesTests {
    @Test func statusIsTheStoredObjectOr404() async throws {
        let harness = TestHarness()
        try await harness.statuses.updateStatus("dQw4w9WgXcQ", state: .processing, progress: 0.4, fields: ["stage": "transcribing"])
        try await harness.makeApplication().test(.router) { client in
            let found = try await client.execute(uri: "/api/status/dQw4w9WgXcQ", method: .get)
            #expect(found.status == .ok)
            #expect(try found.json["status"] == "processing")
            #expect(try found.json["progress"] == 0.4)
            #expect(try found.json["stage"] == "transcribing")
            #expect(try found.json["updated_at"] != nil)

            let missing = try await client.execute(uri: "/api/status/aaaaaaaaaaa", method: .get)
            #expect(missing.status == .notFound)
            #expect(try missing.json["code"] == "not_found")
        }
    }

    @Test func statusFallsBackToTheVideoRowWhenTheTrackerHasNone() async throws {
        let harness = TestHarness()
        let claim = try await harness.videos.claimVideo(id: "dQw4w9WgXcQ")
        _ = try await harness.videos.completeVideo(id: "dQw4w9WgXcQ", token: try #require(claim.token))
        try await harness.makeApplication().test(.router) { client in
            let response = try await client.execute(uri: "/api/status/dQw4w9WgXcQ", method: .get)
            #expect(response.status == .ok)
            #expect(try response.json["status"] == "completed")
            #expect(try response.json["source"] == "database")
        }
    }

    @Test func usageReportsTheTrackersCounters() async throws {
        let harness = TestHarness(limits: APILimits(daily: 100, hourly: 20))
        _ = try await harness.tracker.checkAndCount()
        try await harness.tracker.recordOutcome(.success)
        try await harness.makeApplication().test(.router) { client in
            let response = try await client.execute(uri: "/api/usage", method: .get)
            #expect(response.status == .ok)
            let body = try response.json
            #expect(body["day_count"] == 1)
            #expect(body["hour_count"] == 1)
            #expect(body["daily_limit"] == 100)
            #expect(body["hourly_limit"] == 20)
            #expect(body["remaining"] == 19)
            #expect(body["successes"] == 1)
            #expect(body["backend"] == "in-memory")
        }
    }

    @Test func healthIs200WhenEveryServerAnswersAnd503Otherwise() async throws {
        var healthy = TestHarness()
        healthy.healthChecks = [HealthCheck(name: "redis") {}, HealthCheck(name: "database") {}]
        try await healthy.makeApplication().test(.router) { client in
            let response = try await client.execute(uri: "/health", method: .get)
            #expect(response.status == .ok)
            #expect(try response.json["status"] == "healthy")
            #expect(try response.json["checks"]?.arrayCount == 2)
        }

        var sick = TestHarness()
        sick.healthChecks = [
            HealthCheck(name: "redis") {},
            HealthCheck(name: "database") { throw ScaleKitError(.connectionFailed, "connection refused") },
        ]
        try await sick.makeApplication().test(.router) { client in
            let response = try await client.execute(uri: "/health", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(try response.json["status"] == "unhealthy")
            #expect(response.text.contains("connection refused"))
        }
    }

    @Test func metricsArePrometheusText() async throws {
        let harness = TestHarness(limits: APILimits(daily: 100, hourly: 20))
        _ = try await harness.tracker.checkAndCount()
        try await harness.makeApplication().test(.router) { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(response.text.contains(#"video_service_api_usage_calls{window="day"} 1"#))
            #expect(response.text.contains(#"video_service_api_usage_limit{window="hour"} 20"#))
        }
    }
}

extension JSONValue {
    var arrayCount: Int? { if case .array(let items) = self { items.count } else { nil } }
}
