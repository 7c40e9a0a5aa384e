public import ArgumentParser
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
            "\(claim.outcome.rawValue)\(claim.token.map { " token=\($0)" } ?? "") state=\(claim.video.state.rawValue) attempts=\(claim.video.attempts)"
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
    @Option(help: "Only videos in this state (processing, completed, failed).") var state: VideoState?
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

extension VideoState: ExpressibleByArgument {}

struct ClaimJSON: Encodable {
    var outcome: String
    var shouldProcess: Bool
    var token: String?
    var video: Video
    init(_ claim: VideoClaim) {
        outcome = claim.outcome.rawValue
        shouldProcess = claim.shouldProcess
        token = claim.token?.rawValue
        video = claim.video
    }
}
