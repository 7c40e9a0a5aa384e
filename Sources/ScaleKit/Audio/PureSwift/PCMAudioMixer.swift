public import Metrics

/// An ``AudioMixing`` in pure Swift for in-memory PCM and WAV files
/// (16-bit PCM or 32-bit float), writing WAV: the fake for tests and the
/// reference the FFmpeg mixer is checked against.
///
/// It renders exactly like every backend (same windows, same clipping rule
/// and ducking), streams WAV inputs whose rate matches the output and loads
/// others whole to resample them linearly (fine for tests, not for
/// listening). Other output formats throw ``ScaleKitError/Code/unsupported``;
/// WAV files with more than two channels throw ``ScaleKitError/Code/audioDecoding``.
/// Blocking work runs on a dispatch queue of its own per call.
public struct PCMAudioMixer: AudioMixing {
    /// Seconds of output per window (progress and cancellation granularity).
    public var windowSeconds: Double
    private let metrics: RenderMetrics

    /// - Parameters:
    ///   - windowSeconds: seconds of output per window (progress and cancellation granularity).
    ///   - metricsFactory: where the seconds-rendered counter goes (Docs/Operations.md).
    public init(windowSeconds: Double = 0.25, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metrics = RenderMetrics(mixer: "pcm", factory: metricsFactory)
        self.windowSeconds = windowSeconds
    }

    /// Plays the segments back to back into `output`, on a queue of its own.
    ///
    /// - Throws: ``ScaleKitError`` `audioDecoding` naming an input that cannot
    ///   be read, `unsupported` for an output format other than WAV,
    ///   `invalidTimeline` or `invalidArgument` for a malformed request,
    ///   `cancelled`; a partial file is removed.
    public func join(_ join: AudioJoin, into output: AudioOutput, progress: AudioProgressHandler?) async throws -> AudioMixSummary {
        let windowSeconds = windowSeconds
        return try await runRenderJob(label: "scalekit.pcm-join", trace: .join(join, mixer: "pcm"), output: output, progress: progress, metrics: metrics, makeSink: Self.makeSink) { output in
            try join.validate(maximumDuration: output.maximumDuration)
            let sink = try Self.makeSink(output)
            return try JoinRenderJob(join: join, output: RenderOutput(output: output, sink: sink), windowSeconds: windowSeconds) {
                try Self.open($0, role: $1.role, format: output.format)
            }
        }
    }

    /// Mixes the timeline's clips over its background into `output`, on a
    /// queue of its own.
    ///
    /// - Throws: ``ScaleKitError`` `audioDecoding` naming an input that cannot
    ///   be read, `unsupported` for an output format other than WAV,
    ///   `invalidTimeline` or `invalidArgument` for a malformed timeline,
    ///   `cancelled`; a partial file is removed.
    public func mix(_ timeline: AudioTimeline, into output: AudioOutput, progress: AudioProgressHandler?) async throws -> AudioMixSummary {
        let windowSeconds = windowSeconds
        return try await runRenderJob(label: "scalekit.pcm-mix", trace: .mix(timeline, mixer: "pcm"), output: output, progress: progress, metrics: metrics, makeSink: Self.makeSink) { output in
            try timeline.validate(maximumDuration: output.maximumDuration)
            let sink = try Self.makeSink(output)
            return try TimelineRenderJob(timeline: timeline, output: RenderOutput(output: output, sink: sink), windowSeconds: windowSeconds) {
                try Self.open($0, role: $1.role, format: output.format)
            }
        }
    }

    private static func makeSink(_ output: AudioOutput) throws -> (any PCMFrameSink)? {
        try output.validate()
        guard let file = output.file else { return nil }
        let format = try file.resolvedFormat()
        guard format == .wav else {
            throw ScaleKitError(.unsupported, "PCMAudioMixer writes WAV only, not \(format) (\(file.path)); use FFmpegAudioMixer")
        }
        return try WAVFileWriter(path: file.path, format: output.format, encoding: file.sampleEncoding)
    }

    private static func open(_ source: AudioSource, role: String, format: AudioFormat) throws -> any PCMFrameSource {
        switch source {
        case .pcm(let buffer, let name):
            guard buffer.format.channels >= 1, buffer.format.channels <= 2, buffer.format.sampleRate > 0 else {
                throw ScaleKitError(.audioDecoding, "\(role) (\(name)) has \(buffer.format) PCM; 1 or 2 channels are supported")
            }
            let samples = resampleLinearly(buffer.samples, channels: buffer.format.channels, from: buffer.format.sampleRate, to: format.sampleRate)
            return MemoryFrameSource(samples: samples, channels: buffer.format.channels, outputChannels: format.channels)
        case .file(let path):
            let reader: WAVFileReader
            do {
                reader = try WAVFileReader(path: path)
            } catch var error as ScaleKitError {
                error.message = "\(role): \(error.message)"
                throw error
            }
            let channels = reader.header.channels
            guard channels <= 2 else {
                throw ScaleKitError(.audioDecoding, "\(role): \(path) has \(channels) channels; PCMAudioMixer reads 1 or 2")
            }
            if reader.header.sampleRate == format.sampleRate {
                return WAVFrameSource(reader: reader, outputChannels: format.channels)
            }
            var samples = [Float](repeating: 0, count: reader.totalFrames * channels)
            if reader.totalFrames > 0 {
                _ = try samples.withUnsafeMutableBufferPointer { try reader.read(into: $0.baseAddress!, frames: reader.totalFrames) }
            }
            samples = resampleLinearly(samples, channels: channels, from: reader.header.sampleRate, to: format.sampleRate)
            return MemoryFrameSource(samples: samples, channels: channels, outputChannels: format.channels)
        }
    }
}
