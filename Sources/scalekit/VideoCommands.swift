public import ArgumentParser
import Foundation
public import ScaleKit

struct ClaimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Claim a video for processing (atomic get-or-create) and print the outcome and token.",
        discussion: "Exits 0 when this caller won the claim and should process, 3 when it should not."
    )

    @OptionGroup var output: OutputOptions
    @Argument(help: "The video id.") var id: String
    @Option(help: "Title stored when the video is created.") var title: String?
    @Option(help: "Original URL stored when the video is created.") var url: String?
    @Option(help: "Lease in seconds before another worker may take the claim over.") var lease: Int = 900

    func run() async throws {
        let (id, title, url, lease) = (id, title, url, lease)
        let claim = try await withBackends(output, needs: .videos) { backends in
            try await backends.videos.claimVideo(id: id, title: title, originalURL: url, lease: .seconds(lease))
        }
        output.emit(ClaimJSON(claim)) {
            "\(claim.outcome.rawValue)\(claim.token.map { " token=\($0)" } ?? "") state=\(claim.video.state.rawValue) "
                + "attempt=\(claim.video.attempts)\(claim.notBefore.map { " not_before=\($0.ISO8601Format())" } ?? "")"
                + (claim.video.leaseExpiresAt.map { " lease_expires_at=\($0.ISO8601Format())" } ?? "")
        }
        if !claim.shouldProcess { throw ExitStatus.denied }
    }
}

struct CompleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete", abstract: "Mark a claimed video completed (only the claim's holder can).")
    @OptionGroup var output: OutputOptions
    @Argument(help: "The video id.") var id: String
    @Option(help: "The token `claim` printed.") var token: String

    func run() async throws {
        let (id, token) = (id, ClaimToken(rawValue: token))
        let video = try await withBackends(output, needs: .videos) { try await $0.videos.completeVideo(id: id, token: token) }
        output.emit(video) { "completed \(video.id)" }
    }
}

struct FailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fail", abstract: "Mark a claimed video failed so a later claim retries it.")
    @OptionGroup var output: OutputOptions
    @Argument(help: "The video id.") var id: String
    @Option(help: "The token `claim` printed.") var token: String
    @Option(help: "What went wrong.") var error: String = "failed"

    func run() async throws {
        let (id, token, message) = (id, ClaimToken(rawValue: token), error)
        let video = try await withBackends(output, needs: .videos) { try await $0.videos.failVideo(id: id, token: token, error: message) }
        output.emit(video) { "failed \(video.id): \(message)" }
    }
}

struct VideosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "videos", abstract: "List videos, newest update first.")
    @OptionGroup var output: OutputOptions
    @Option(help: "Only videos in this state (pending, processing, completed, failed, abandoned).") var state: VideoState?
    @Option(help: "At most this many.") var limit: Int = 100

    func run() async throws {
        let (state, limit) = (state, limit)
        let videos = try await withBackends(output, needs: .videos) { try await $0.videos.videos(state: state, limit: limit) }
        output.emit(videos) {
            videos.isEmpty
                ? "no videos"
                : videos.map { "\($0.id)\t\($0.state.rawValue)\tattempts=\($0.attempts)\t\($0.title ?? "")" }.joined(separator: "\n")
        }
    }
}

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue", abstract: "Store pending videos for workers that ask for the next one.",
        discussion: "Videos that exist already are left as they are. With --count, enqueues <prefix>-0 … <prefix>-<count - 1>.")
    @OptionGroup var output: OutputOptions
    @Argument(help: "Video ids.") var ids: [String] = []
    @Option(help: "With --count: the ids' prefix.") var prefix: String?
    @Option(help: "With --prefix: how many ids.") var count: Int = 0

    func run() async throws {
        let ids = self.ids + (prefix.map { prefix in (0..<max(0, count)).map { "\(prefix)-\($0)" } } ?? [])
        let enqueued = try await withBackends(output) { backends in
            var pending = 0
            for id in ids where try await backends.videos.enqueueVideo(id: id, title: nil, originalURL: nil).state == .pending {
                pending += 1
            }
            return pending
        }
        output.emit(["videos": ids.count, "pending": enqueued]) { "\(ids.count) videos, \(enqueued) pending" }
    }
}

struct RescueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescue",
        abstract: "End expired leases once: requeue them (failed, due after the backoff) or abandon them after the last attempt.")
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let rescue = try await withBackends(output) { backends in
            try await VideoLeaseRescuer(repository: backends.videos).rescueOnce()
        }
        output.emit(rescue) { "requeued \(rescue.requeued), abandoned \(rescue.abandoned)" }
    }
}

extension VideoState: ExpressibleByArgument {}

struct ClaimJSON: Encodable {
    var outcome: String
    var shouldProcess: Bool
    var token: String?
    var attempt: Int
    var state: String
    var notBefore: Date?
    var video: Video
    init(_ claim: VideoClaim) {
        outcome = claim.outcome.rawValue
        shouldProcess = claim.shouldProcess
        token = claim.token?.rawValue
        attempt = claim.attempt
        state = claim.video.state.rawValue
        notBefore = claim.notBefore
        video = claim.video
    }
}
