import Hummingbird
import ScaleKit
import ScaleKitServices

/// `GET /api/status/{id}`: the job's status object, shared by every instance.
///
/// The status tracker holds it for 24 hours (Redis in production). When it
/// has none (expired, or an embedded in-memory tracker on another
/// instance), the video's row answers with its state, so a completed video
/// still reads `completed`; only a video nobody has asked for is a 404.
struct StatusRoute: Sendable {
    let backends: ScaleKitBackends

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        if let status = try await backends.statusTracker.status(for: id) {
            return try JSONResponse.make(status.jsonObject)
        }
        if let video = try await backends.videos.video(id: id) {
            return try JSONResponse.make(Self.statusFromVideo(video))
        }
        throw APIError(.notFound, code: "not_found", "no status for video \(YouTubeVideoID.excerptForMessage(id))")
    }

    /// A status object built from the stored video, marked `"source": "database"`.
    static func statusFromVideo(_ video: Video) -> JSONValue {
        let state: JobState =
            switch video.state {
            case .pending: .pending
            case .processing: .processing
            case .completed: .completed
            case .failed, .abandoned: .failed
            }
        let fields: [String: JSONValue] = [
            "video_id": .string(video.id), "attempts": .number(Double(video.attempts)), "source": "database",
            "video_state": .string(video.state.rawValue),
        ]
        let status = JobStatus(
            state: state, progress: video.state == .completed ? 1 : nil, message: video.state == .failed || video.state == .abandoned ? video.lastError : nil,
            fields: fields, updatedAt: video.updatedAt)
        return status.jsonObject
    }
}

extension YouTubeVideoID {
    /// At most 64 characters of a client's id in an error message.
    static func excerptForMessage(_ text: String) -> String {
        text.count > 64 ? String(text.prefix(64)) + "…" : text
    }
}
