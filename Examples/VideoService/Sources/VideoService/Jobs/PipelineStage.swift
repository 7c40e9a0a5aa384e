/// One step of the simulated dubbing pipeline.
struct PipelineStage: Sendable, Hashable {
    /// The `stage` member of the status while this step runs.
    var name: String
    /// The progress reported when the step starts (0 to 1).
    var progress: Double
    /// Whether the step calls the rate-limited external API (counted against
    /// `RAPIDAPI_DAILY_LIMIT` / `RAPIDAPI_HOURLY_LIMIT`).
    var callsExternalAPI: Bool
    /// Whether the step mixes the dubbed track (real work with the audio
    /// mixer, not a simulated wait).
    var mixesAudio = false

    /// The seed's pipeline: two calls to the video API (metadata, download),
    /// simulated local work, then the dubbed track mixed for real. Every job
    /// counts exactly ``externalCallsPerJob`` calls, which the load test checks.
    static let standard: [PipelineStage] = [
        PipelineStage(name: "fetching_metadata", progress: 0.05, callsExternalAPI: true),
        PipelineStage(name: "downloading", progress: 0.2, callsExternalAPI: true),
        PipelineStage(name: "transcribing", progress: 0.4, callsExternalAPI: false),
        PipelineStage(name: "translating", progress: 0.55, callsExternalAPI: false),
        PipelineStage(name: "synthesizing_speech", progress: 0.7, callsExternalAPI: false),
        PipelineStage(name: "mixing", progress: 0.85, callsExternalAPI: false, mixesAudio: true),
    ]

    /// External API calls one successful job makes.
    static var externalCallsPerJob: Int { standard.filter(\.callsExternalAPI).count }
}
