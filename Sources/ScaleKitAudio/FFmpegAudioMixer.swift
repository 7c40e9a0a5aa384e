public import Metrics
public import ScaleKit

/// ``/ScaleKit/AudioMixing`` on FFmpeg 5.1: decodes anything libavformat/libavcodec
/// read (WAV, MP3, AAC/M4A, FLAC, Ogg Vorbis/Opus, …), resamples with
/// libswresample, and encodes WAV, FLAC, MP3, AAC (M4A or ADTS) or Opus.
///
/// Streaming: the output is rendered in windows; a clip's file is opened
/// when the window reaches its start and closed when it ends, so peak memory
/// is the window plus the decoders of the clips playing in it, whatever the
/// output's length or the number of clips. A join holds one segment's
/// decoder at a time. All decoding and encoding runs on a dispatch queue of
/// its own per call, never on Swift's cooperative pool; cancellation is
/// checked between windows and removes the partial file. Resampler contexts
/// are set up once per input format and rate and reused, reset, by every
/// later source of the same render with that format.
public struct FFmpegAudioMixer: AudioMixing {
    /// Seconds of output per window (progress and cancellation granularity).
    public var windowSeconds: Double
    /// How far ahead of the window being mixed a mix decodes and resamples
    /// its background and clips, each on a thread of its own (0 or `nil`:
    /// everything on the render's queue, one core). Memory grows with it: about
    /// 0.4 MB per second for each input playing at 48 kHz stereo.
    public var readAheadSeconds: Double?
    private let metrics: RenderMetrics

    /// - Parameters:
    ///   - windowSeconds: seconds of output per window (progress and cancellation granularity).
    ///   - readAheadSeconds: how far ahead a mix decodes on its own threads (`nil`: no read-ahead threads).
    ///   - metricsFactory: where the seconds-rendered counter goes (Docs/Operations.md).
    public init(windowSeconds: Double = 0.25, readAheadSeconds: Double? = 1, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metrics = RenderMetrics(mixer: "ffmpeg", factory: metricsFactory)
        FFmpegLogging.installDefault()
        self.windowSeconds = windowSeconds
        self.readAheadSeconds = readAheadSeconds
    }

    /// Plays the segments back to back into `output`, streaming, on a queue of
    /// its own. See ``/ScaleKit/AudioMixing/join(_:into:progress:)``.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `audioDecoding` naming an input that
    ///   cannot be read, `audioEncoding`, `invalidTimeline` or `invalidArgument`
    ///   for a malformed request, `cancelled`; a partial file is removed.
    public func join(_ join: AudioJoin, into output: AudioOutput, progress: AudioProgressHandler?) async throws -> AudioMixSummary {
        let windowSeconds = windowSeconds
        return try await runRenderJob(label: "scalekit.ffmpeg-join", trace: .join(join, mixer: "ffmpeg"), output: output, progress: progress, metrics: metrics, makeSink: Self.makeSink) { output in
            try join.validate(maximumDuration: output.maximumDuration)
            let sink = try Self.makeSink(output)
            let pool = FFmpegResamplerPool()
            return try JoinRenderJob(join: join, output: RenderOutput(output: output, sink: sink), windowSeconds: windowSeconds) {
                try openFFmpegSource($0, request: $1, output: output.format, pool: pool)
            }
        }
    }

    /// Mixes the timeline's clips over its background into `output`,
    /// streaming, on a queue of its own. See
    /// ``/ScaleKit/AudioMixing/mix(_:into:progress:)``.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `audioDecoding` naming an input that
    ///   cannot be read, `audioEncoding`, `invalidTimeline` or `invalidArgument`
    ///   for a malformed timeline, `cancelled`; a partial file is removed.
    public func mix(_ timeline: AudioTimeline, into output: AudioOutput, progress: AudioProgressHandler?) async throws -> AudioMixSummary {
        let windowSeconds = windowSeconds
        let readAheadSeconds = readAheadSeconds.flatMap { $0 == 0 ? nil : $0 }
        return try await runRenderJob(label: "scalekit.ffmpeg-mix", trace: .mix(timeline, mixer: "ffmpeg"), output: output, progress: progress, metrics: metrics, makeSink: Self.makeSink) { output in
            try timeline.validate(maximumDuration: output.maximumDuration)
            let sink = try Self.makeSink(output)
            // One pool per render: clips with the same input format share their resampler set-up.
            let pool = FFmpegResamplerPool()
            return try TimelineRenderJob(
                timeline: timeline, output: RenderOutput(output: output, sink: sink), windowSeconds: windowSeconds,
                readAheadSeconds: readAheadSeconds
            ) {
                try openFFmpegSource($0, request: $1, output: output.format, pool: pool)
            }
        }
    }

    private static func makeSink(_ output: AudioOutput) throws -> (any PCMFrameSink)? {
        try output.validate()
        return try output.file.map { try FFmpegEncoder(file: $0, format: output.format) }
    }
}
