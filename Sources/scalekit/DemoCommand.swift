import ArgumentParser
import Foundation
import ScaleKit
import ScaleKitServices

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the seed's flow once: claim a video, count an API call, report progress, complete.",
        discussion: "Uses whatever the environment selects; with no environment, the embedded defaults (no servers)."
    )

    @OptionGroup var output: OutputOptions
    @Option(help: "The video id to process (default: a new one each run).") var videoID: String?

    func run() async throws {
        let videoID = videoID ?? "demo-\(UUID().uuidString.prefix(8).lowercased())"
        try await withBackends(output) { backends in
            try await DemoFlow(backends: backends, videoID: videoID).run()
        }
    }
}

/// The seed's /api/process flow, narrated.
struct DemoFlow {
    let backends: ScaleKitBackends
    let videoID: String

    func say(_ line: String) { print(line) }

    func run() async throws {
        say("Backends:")
        for choice in backends.choices { say("  \(choice)") }

        let url = "https://www.youtube.com/watch?v=\(videoID)"
        say("\n1. Claim video \(videoID) (two requests at once, as two workers would):")
        async let first = backends.videos.claimVideo(id: videoID, title: "Demo video", originalURL: url, lease: .seconds(300))
        async let second = backends.videos.claimVideo(id: videoID, title: "Demo video", originalURL: url, lease: .seconds(300))
        let claims = try await [first, second]
        for claim in claims { say("   -> \(claim.outcome.rawValue)\(claim.shouldProcess ? " (this one processes)" : "")") }
        guard let claim = claims.first(where: \.shouldProcess), let token = claim.token else {
            say("   nobody won the claim: the video is \(claims[0].video.state.rawValue) already")
            return
        }

        say("\n2. Count one call to the external API:")
        let decision = try await backends.apiTracker.checkAndCount()
        guard decision.isAllowed else {
            say("   denied by the \(decision.deniedBy?.rawValue ?? "?") limit; failing the claim so it can be retried")
            try await backends.statusTracker.updateStatus(videoID, state: .failed, message: "API quota exhausted")
            try await backends.videos.failVideo(id: videoID, token: token, error: "API quota exhausted")
            return
        }
        try await backends.apiTracker.recordOutcome(.success)
        say("   allowed; \(decision.usage.remaining) left (day \(decision.usage.dayCount)/\(decision.usage.limits.daily), hour \(decision.usage.hourCount)/\(decision.usage.limits.hourly))")

        say("\n3. Move the job through its stages:")
        for (stage, progress) in [("downloading", 0.2), ("transcribing", 0.4), ("dubbing", 0.6), ("mixing", 0.8)] {
            let status = try await backends.statusTracker.updateStatus(
                videoID, state: .processing, progress: progress, message: stage, fields: ["stage": .string(stage)])
            say("   \(stage.padding(toLength: 13, withPad: " ", startingAt: 0)) progress \(Int(progress * 100))%  (updated_at \(status.updatedAt.map(JobStatus.formatTimestamp) ?? "-"))")
        }
        try await audioStep()

        say("\n5. Complete the claim:")
        let video = try await backends.videos.completeVideo(id: videoID, token: token)
        let final = try await backends.statusTracker.updateStatus(videoID, state: .completed, progress: 1, message: "done")
        say("   video \(video.id): \(video.state.rawValue) after \(video.attempts) attempt(s); status \(final.state.rawValue)")
        let again = try await backends.videos.claimVideo(id: videoID, title: nil, originalURL: nil, lease: .seconds(300))
        say("   a later request for the same video -> \(again.outcome.rawValue)")

        let usage = try await backends.apiTracker.usage()
        say("\nAPI usage: today \(usage.dayCount)/\(usage.limits.daily), this hour \(usage.hourCount)/\(usage.limits.hourly), \(usage.successes) succeeded")
    }
}
