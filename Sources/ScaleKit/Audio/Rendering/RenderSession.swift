import Foundation
package import Metrics
import Tracing

/// Runs a render job's blocking windows on a dedicated dispatch queue, never on the cooperative pool.
package actor AudioRenderSession {
    private let executor: DispatchQueueExecutor
    private var job: (any AudioRenderJob)?

    package nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    package init(label: String) {
        executor = DispatchQueueExecutor(label: label)
    }

    package func start(_ make: @Sendable () throws -> any AudioRenderJob) throws {
        job = try make()
    }

    package func step() throws -> (more: Bool, progress: AudioProgress) {
        guard let job else { return (false, AudioProgress(secondsDone: 0, secondsTotal: nil, fractionCompleted: 0)) }
        let more = try job.renderNextWindow()
        return (more, job.progress)
    }

    package func summary() -> AudioMixSummary? { job?.summary() }

    package func abort() {
        job?.abort()
        job = nil
    }
}

/// Drives a render job to completion: one window per step on the session's
/// queue, progress after each window on the calling task, a cancellation
/// check before each window. On any error or cancellation the partial output
/// is removed; cancellation surfaces as ``ScaleKitError/Code/cancelled``.
///
/// With a ``AudioOutput/loudnessTarget`` the render runs twice over the
/// output's length: `make` renders into a float WAV intermediate while it is
/// measured, then a ``GainPassJob`` reads it back through `makeSink`'s sink
/// with the normalising gain (progress: the first pass is the first half).
///
/// The render is one span, `audio.join` or `audio.mix`, with the mixer, the
/// number of inputs and the seconds rendered. A render that completes adds its
/// seconds to `metrics`.
package func runRenderJob(
    label: String, trace: RenderTrace, output: AudioOutput, progress: AudioProgressHandler?, metrics: RenderMetrics,
    makeSink: @escaping @Sendable (AudioOutput) throws -> (any PCMFrameSink)?,
    make: @escaping @Sendable (AudioOutput) throws -> any AudioRenderJob
) async throws -> AudioMixSummary {
    try await ScaleKitSpan.run(trace.operation, kind: .internal) { span in
        span.set("scalekit.audio.mixer", trace.mixer)
        span.set("scalekit.audio.inputs", trace.inputs)
        let summary: AudioMixSummary
        if let target = output.loudnessTarget {
            summary = try await renderNormalised(label: label, output: output, target: target, progress: progress, makeSink: makeSink, make: make)
        } else {
            summary = try await render(label: label, progress: progress) { try make(output) }
        }
        span.set("scalekit.audio.seconds_rendered", summary.duration)
        span.set("scalekit.audio.clipping_rule_engaged", summary.clippingRuleEngaged)
        if let loudness = summary.loudness?.integratedLUFS { span.set("scalekit.audio.integrated_lufs", loudness) }
        metrics.record(trace, seconds: summary.duration)
        return summary
    }
}

/// `scalekit_audio_seconds_rendered_total{mixer, operation}`: seconds of
/// audio a mixer rendered, by `operation` (`join` or `mix`); Docs/Operations.md.
///
/// A mixer makes one when it is created and keeps it, so the fractions of a
/// second add up across renders even on a metrics backend without
/// floating-point counters (swift-metrics then rounds and carries the rest).
package struct RenderMetrics: Sendable {
    private let join: FloatingPointCounter
    private let mix: FloatingPointCounter

    package init(mixer: String, factory: any MetricsFactory) {
        func counter(_ operation: String) -> FloatingPointCounter {
            FloatingPointCounter(
                label: "scalekit_audio_seconds_rendered_total", dimensions: [("mixer", mixer), ("operation", operation)],
                factory: factory)
        }
        join = counter("join")
        mix = counter("mix")
    }

    func record(_ trace: RenderTrace, seconds: Double) {
        (trace.operation == "audio.join" ? join : mix).increment(by: seconds)
    }
}

/// What a render's span says about it.
package struct RenderTrace: Sendable {
    /// `audio.join` or `audio.mix`.
    package var operation: String
    /// `ffmpeg` or `pcm`.
    package var mixer: String
    /// Segments of a join; clips (plus a background) of a mix.
    package var inputs: Int

    package static func join(_ join: AudioJoin, mixer: String) -> RenderTrace {
        RenderTrace(operation: "audio.join", mixer: mixer, inputs: join.segments.count)
    }

    package static func mix(_ timeline: AudioTimeline, mixer: String) -> RenderTrace {
        RenderTrace(operation: "audio.mix", mixer: mixer, inputs: timeline.clips.count + (timeline.background == nil ? 0 : 1))
    }
}

/// The two passes of loudness normalisation (see ``runRenderJob(label:trace:output:progress:metrics:makeSink:make:)``).
private func renderNormalised(
    label: String, output: AudioOutput, target: LoudnessTarget, progress: AudioProgressHandler?,
    makeSink: @escaping @Sendable (AudioOutput) throws -> (any PCMFrameSink)?,
    make: @escaping @Sendable (AudioOutput) throws -> any AudioRenderJob
) async throws -> AudioMixSummary {
    try output.validate()
    let intermediate = try intermediatePath(for: output)
    defer { unlink(intermediate) }
    let measured = AudioOutput(
        format: output.format, file: AudioOutputFile(path: intermediate, format: .wav, sampleEncoding: .float32), clipping: output.clipping,
        maximumDuration: output.maximumDuration, measuresLoudness: true)
    let first = try await render(label: label, progress: progress.map { report -> AudioProgressHandler in { report(halved($0, second: false)) } }) {
        try make(measured)
    }
    guard let before = first.loudness else { throw ScaleKitError(.audioEncoding, "the loudness pass measured nothing") }
    let plan = LoudnessNormalisation.plan(target: target, before: before)
    let final = AudioOutput(
        format: output.format, file: output.file, capturesPCM: output.capturesPCM, clipping: output.clipping,
        maximumDuration: output.maximumDuration, measuresLoudness: true)
    let frames = first.frames
    let second = try await render(label: label, progress: progress.map { report -> AudioProgressHandler in { report(halved($0, second: true)) } }) {
        try GainPassJob(intermediatePath: intermediate, frames: frames, gainDB: plan.gainDB, output: RenderOutput(output: final, sink: makeSink(final)))
    }
    var summary = first
    summary.file = second.file
    summary.pcm = second.pcm
    summary.loudness = second.loudness
    summary.normalisation = plan
    summary.framesAdjustedForClipping += second.framesAdjustedForClipping
    summary.clippingRuleEngaged = summary.clippingRuleEngaged || second.clippingRuleEngaged
    return summary
}

/// A hidden float WAV beside the output (same file system, no surprise
/// quota elsewhere), or in the temporary folder for in-memory output.
/// - Throws: ``ScaleKitError/Code/audioEncoding`` when the output's folder does not exist.
private func intermediatePath(for output: AudioOutput) throws -> String {
    let beside = output.file?.path ?? FileManager.default.temporaryDirectory.appendingPathComponent("scalekit-render").path
    return try TemporaryOutputFile(finalPath: beside).temporaryPath + ".loudness.wav"
}

/// A pass's progress as half of the whole: the first pass fills 0…½, the gain pass ½…1.
private func halved(_ progress: AudioProgress, second: Bool) -> AudioProgress {
    var report = progress
    report.fractionCompleted = (second ? 0.5 : 0) + progress.fractionCompleted / 2
    return report
}

private func render(
    label: String, progress: AudioProgressHandler?, make: @escaping @Sendable () throws -> any AudioRenderJob
) async throws -> AudioMixSummary {
    let session = AudioRenderSession(label: label)
    do {
        try checkCancelled()
        try await session.start(make)
        while true {
            try checkCancelled()
            let (more, report) = try await session.step()
            progress?(report)
            if !more { break }
        }
        guard let summary = await session.summary() else {
            throw ScaleKitError(.audioEncoding, "the render produced no summary")
        }
        await session.abort()  // releases the job; the output is already committed
        return summary
    } catch {
        await session.abort()
        throw error
    }
}

private func checkCancelled() throws {
    if Task.isCancelled {
        throw ScaleKitError(.cancelled, "the audio render was cancelled; partial output removed")
    }
}
