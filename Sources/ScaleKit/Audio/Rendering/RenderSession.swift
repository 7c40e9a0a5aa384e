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
/// The render is one span, `audio.join` or `audio.mix`, with the mixer, the
/// number of inputs and the seconds rendered. A render that completes adds its
/// seconds to `metrics`.
package func runRenderJob(
    label: String, trace: RenderTrace, progress: AudioProgressHandler?, metrics: RenderMetrics,
    make: @escaping @Sendable () throws -> any AudioRenderJob
) async throws -> AudioMixSummary {
    try await ScaleKitSpan.run(trace.operation, kind: .internal) { span in
        span.set("scalekit.audio.mixer", trace.mixer)
        span.set("scalekit.audio.inputs", trace.inputs)
        let summary = try await render(label: label, progress: progress, make: make)
        span.set("scalekit.audio.seconds_rendered", summary.duration)
        span.set("scalekit.audio.clipping_rule_engaged", summary.clippingRuleEngaged)
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
