import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ScaleKit
import Testing

@testable import VideoService

@Suite struct ProcessRouteTests {
    @Test func firstRequestStartsTheJobAndTheNextOneIsAlreadyProcessing() async throws {
        let harness = TestHarness(stageDuration: .seconds(30))  // keeps the job running for the second request
        try await harness.makeApplication().test(.router) { client in
            let first = try await client.process("https://youtu.be/dQw4w9WgXcQ?t=42")
            #expect(first.status == .accepted)
            let body = try first.json
            #expect(body["video_id"] == "dQw4w9WgXcQ")
            #expect(body["already_processing"]?.boolValue == false)
            #expect(body["outcome"] == "created")
            #expect(body["status"]?["status"] == "processing")
            #expect(body["status_url"] == "/api/status/dQw4w9WgXcQ")

            let second = try await client.process("https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share")
            #expect(second.status == .ok)
            #expect(try second.json["already_processing"]?.boolValue == true)
            #expect(try second.json["outcome"] == "already_processing")
        }
    }

    @Test func concurrentRequestsForOneVideoStartExactlyOneJob() async throws {
        let harness = TestHarness(stageDuration: .seconds(30))
        let codes = try await harness.makeApplication().test(.router) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<5 {
                    group.addTask { try await client.process("https://www.youtube.com/shorts/dQw4w9WgXcQ").status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(codes.filter { $0 == .accepted }.count == 1)
        #expect(codes.filter { $0 == .ok }.count == 4)
        #expect(try await harness.videos.videos().count == 1)
    }

    @Test func completedJobIsReportedAsCompleted() async throws {
        let harness = TestHarness()
        try await harness.makeApplication().test(.router) { client in
            #expect(try await client.process("https://m.youtube.com/watch?v=dQw4w9WgXcQ").status == .accepted)
            let final = try await harness.finalStatus(of: "dQw4w9WgXcQ")
            #expect(final.state == .completed)
            #expect(final.progress == 1)
            // The dubbed track was mixed with FFmpeg and written.
            let path = "\(harness.outputDirectory)/dQw4w9WgXcQ.m4a"
            #expect(final.fields["dubbed_audio"] == .string(path))
            #expect(final.fields["dubbed_audio_seconds"]?.numberValue ?? 0 > 3)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
            #expect(size ?? 0 > 1_000)
            try FileManager.default.removeItem(atPath: harness.outputDirectory)

            let again = try await client.process("https://youtu.be/dQw4w9WgXcQ")
            #expect(again.status == .ok)
            let body = try again.json
            #expect(body["already_processing"]?.boolValue == false)
            #expect(body["already_completed"]?.boolValue == true)
            #expect(body["status"]?["status"] == "completed")
        }
        #expect(try await harness.videos.video(id: "dQw4w9WgXcQ")?.state == .completed)
        #expect(try await harness.tracker.usage().dayCount == PipelineStage.externalCallsPerJob)
    }

    @Test(arguments: ["https://vimeo.com/123", "https://www.youtube.com/watch?v=tooShort", "hello"])
    func invalidURLIsA400WithAJSONError(_ url: String) async throws {
        let harness = TestHarness()
        try await harness.makeApplication().test(.router) { client in
            let response = try await client.process(url)
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(try response.json["code"] == "invalid_url")
            #expect(try response.json["error"]?.stringValue?.isEmpty == false)
        }
        #expect(try await harness.videos.videos().isEmpty)
    }

    @Test(arguments: ["", "not json", #"{"link": "https://youtu.be/dQw4w9WgXcQ"}"#, #"{"url": 42}"#])
    func malformedBodyIsA400WithAJSONError(_ body: String) async throws {
        let harness = TestHarness()
        try await harness.makeApplication().test(.router) { client in
            let response = try await client.execute(
                uri: "/api/process", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            #expect(try response.json["code"] == "invalid_body")
        }
    }

    @Test func exhaustedQuotaFailsTheJobWithAClearStatusAndAllowsARetry() async throws {
        // One call a day: the job's second external call is denied.
        let harness = TestHarness(limits: APILimits(daily: 1, hourly: 10))
        try await harness.makeApplication().test(.router) { client in
            #expect(try await client.process("https://youtu.be/dQw4w9WgXcQ").status == .accepted)
            let final = try await harness.finalStatus(of: "dQw4w9WgXcQ")
            #expect(final.state == .failed)
            #expect(final.fields["error"] == "quota_exhausted")
            #expect(final.message?.contains("daily limit of 1") == true)
            #expect(try await harness.videos.video(id: "dQw4w9WgXcQ")?.state == .failed)

            let retry = try await client.process("https://youtu.be/dQw4w9WgXcQ")
            #expect(retry.status == .accepted)
            #expect(try retry.json["outcome"] == "retrying_failed")
            #expect(try retry.json["status"]?["error"] == nil)  // the last attempt's error is gone
        }
        let usage = try await harness.tracker.usage()
        #expect(usage.dayCount == 1)
        #expect(usage.denied >= 1)
    }

    @Test func gracefulShutdownFailsTheRunningJobSoItCanBeRetried() async throws {
        let harness = TestHarness(stageDuration: .seconds(600))
        try await harness.makeApplication().test(.router) { client in
            #expect(try await client.process("https://youtu.be/dQw4w9WgXcQ").status == .accepted)
            try await harness.waitForStage("fetching_metadata", of: "dQw4w9WgXcQ")
        }
        // The test framework shut the service down gracefully on return.
        let video = try #require(try await harness.videos.video(id: "dQw4w9WgXcQ"))
        #expect(video.state == .failed)
        #expect(video.lastError?.contains("interrupted") == true)
        let status = try #require(try await harness.statuses.status(for: "dQw4w9WgXcQ"))
        #expect(status.state == .failed)
        #expect(status.fields["error"] == "interrupted")
        #expect(try await harness.videos.claimVideo(id: "dQw4w9WgXcQ").outcome == .retryingFailed)
    }

    @Test func aJobWhoseVideoWasTakenOverCannotOverwriteTheNewHoldersStatus() async throws {
        let harness = TestHarness(stageDuration: .seconds(600))
        let id = "dQw4w9WgXcQ"
        let takeover = try await harness.makeApplication().test(.router) { client in
            #expect(try await client.process("https://youtu.be/\(id)").status == .accepted)
            try await harness.waitForStage("fetching_metadata", of: id)
            // The job's lease runs out (on purpose: the repository's clock moves
            // past it) and another worker takes the video over and says so.
            harness.videoClock.advance(by: .seconds(3600))
            let claim = try await harness.videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(7200))
            #expect(claim.outcome == .tookOverExpiredLease && claim.attempt == 2)
            try await harness.statuses.setStatus(
                JobStatus(state: .processing, message: "worker B", fields: ["by": "B"]), for: id, ttl: nil, fence: claim.fence)
            return claim
        }
        // On the graceful shutdown the first job fails: its failed status and
        // its failVideo are both refused, so worker B's status and claim stand.
        let status = try #require(try await harness.statuses.status(for: id))
        #expect(status.state == .processing && status.fields["by"] == "B" && status.fence?.attempt == 2, "\(status)")
        let video = try #require(try await harness.videos.video(id: id))
        #expect(video.state == .processing && video.leaseOwner == takeover.token && video.attempts == 2)
        // Both refusals are counted, by kind, for the operator (and the fleet test).
        let metrics = harness.metricsText
        #expect(metrics.contains(#"video_service_stale_writes_refused_total{write="status"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"video_service_stale_writes_refused_total{write="fail"} 1"#))
        #expect(metrics.contains(#"video_service_stale_writes_refused_total{write="renew_lease"} 0"#))
    }

    @Test func aStageLongerThanTheLeaseKeepsTheClaim() async throws {
        let harness = {
            var harness = TestHarness(stageDuration: .seconds(600))
            harness.lease = .seconds(1)
            return harness
        }()
        let id = "dQw4w9WgXcQ"
        try await harness.makeApplication().test(.router) { client in
            #expect(try await client.process("https://youtu.be/\(id)").status == .accepted)
            try await harness.waitForStage("fetching_metadata", of: id)
            let renewed = try #require(try await harness.videos.video(id: id)?.leaseExpiresAt)
            // An hour passes by the database's clock while the first stage
            // still runs: the heartbeat keeps renewing the lease meanwhile, so
            // another worker is told the video is being processed.
            harness.videoClock.advance(by: .seconds(3600))
            try await harness.waitUntil("a renewal after the clock moved") {
                try await harness.videos.video(id: id)?.leaseExpiresAt ?? .distantPast >= renewed.addingTimeInterval(3600)
            }
            let other = try await harness.videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(60))
            #expect(other.outcome == .alreadyProcessing)
            #expect(try await harness.statuses.status(for: id)?.fields["stage"] == "fetching_metadata")
        }
    }

    @Test func aJobWhoseLeaseWasTakenOverStopsAtItsNextRenewalAndCountsTheRefusal() async throws {
        let harness = TestHarness()
        let id = "dQw4w9WgXcQ"
        let first = try await harness.videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(60))
        // The first worker stalls past its lease (the repository's clock moves
        // on purpose), and a second one takes the video over.
        harness.videoClock.advance(by: .seconds(3600))
        let second = try await harness.videos.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(7200))
        #expect(second.outcome == .tookOverExpiredLease)
        let pipeline = VideoPipeline(
            backends: harness.backends, settings: VideoServiceSettings(port: 0, stageDuration: .zero, instanceName: "stale"),
            dubbedTrack: DubbedTrack(mixer: PCMAudioMixer(), directory: harness.outputDirectory),
            metrics: JobMetrics(factory: PrometheusMetricsFactory(registry: harness.registry)), logger: Logger(label: "stale-job"))
        // The first worker wakes up and runs its job with its old token.
        await pipeline.run(ProcessingJob(videoID: id, originalURL: "https://youtu.be/\(id)", token: try #require(first.token), attempt: 1))
        let metrics = harness.metricsText
        #expect(metrics.contains(#"video_service_stale_writes_refused_total{write="renew_lease"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"video_service_jobs_finished_total{result="lost_claim"} 1"#))
        // Nothing of the stale job was written: the new holder keeps the claim, and no API call was made.
        let video = try #require(try await harness.videos.video(id: id))
        #expect(video.state == .processing && video.leaseOwner == second.token && video.attempts == 2)
        #expect(try await harness.statuses.status(for: id) == nil)
        #expect(try await harness.tracker.usage().dayCount == 0)
    }

    @Test func gracefulShutdownAlsoFailsJobsStillWaitingInTheQueue() async throws {
        let harness = TestHarness(stageDuration: .seconds(600), maxConcurrentJobs: 1)
        let ids = ["aaaaaaaaaa1", "aaaaaaaaaa2", "aaaaaaaaaa3"]
        try await harness.makeApplication().test(.router) { client in
            for id in ids {
                #expect(try await client.process("https://youtu.be/\(id)").status == .accepted)
            }
            try await harness.waitForStage("fetching_metadata", of: ids[0])
            // One job at a time: the other two are still queued.
            #expect(try await harness.statuses.status(for: ids[1])?.fields["stage"] == "queued")
        }
        for id in ids {
            let video = try #require(try await harness.videos.video(id: id))
            #expect(video.state == .failed, "\(id) was left \(video.state)")
        }
    }
}
