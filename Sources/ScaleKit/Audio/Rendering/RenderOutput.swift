/// The end of every render: clipping rule, statistics, the file sink and the optional in-memory capture.
package final class RenderOutput {
    package let format: AudioFormat
    private let sink: (any PCMFrameSink)?
    private let filePath: String?
    private var clipping: ClippingStage
    private var captured: [Float]?
    /// Measures what is written, when the output asks for loudness.
    private var meter: LoudnessMeter?
    package private(set) var frames = 0
    private var finished = false
    /// Frames at ``AudioOutput/maximumDuration``: inputs longer than their
    /// header said (or a long background) stop here, not when the disk is full.
    private let maximumFrames: Int
    package let maximumDuration: Double

    package init(output: AudioOutput, sink: (any PCMFrameSink)?) {
        format = output.format
        self.sink = sink
        filePath = output.file?.path
        clipping = ClippingStage(rule: output.clipping, format: output.format)
        captured = output.capturesPCM ? [] : nil
        // AudioOutput.validate() has checked the format, which the meter accepts.
        meter = output.measuresLoudness || output.loudnessTarget != nil
            ? try? LoudnessMeter(sampleRate: output.format.sampleRate, channels: output.format.channels) : nil
        maximumDuration = output.maximumDuration
        // AudioOutput.validate() has refused an out-of-range maximum; clamp anyway so no conversion can trap.
        let seconds = output.maximumDuration.isFinite ? min(max(0, output.maximumDuration), AudioLimits.maximumDurationCeiling) : 0
        maximumFrames = Int((seconds * Double(min(max(0, output.format.sampleRate), 1_000_000))).rounded())
    }

    /// Applies the clipping rule to `count` frames in place, then writes and captures them.
    package func emit(_ samples: UnsafeMutablePointer<Float>, frames count: Int) throws {
        guard count > 0 else { return }
        guard count <= maximumFrames - frames else {
            throw ScaleKitError(
                .invalidArgument,
                "the output would be longer than its maximum duration of \(maximumDuration) s (raise it with AudioOutput.maximumDuration or --max-duration)")
        }
        try clipping.process(samples, frames: count, startFrame: frames, sampleRate: format.sampleRate)
        try sink?.write(samples, frames: count)
        meter?.add(UnsafeBufferPointer(start: samples, count: count * format.channels))
        captured?.append(contentsOf: UnsafeBufferPointer(start: samples, count: count * format.channels))
        frames += count
    }

    /// Commits the file.
    package func finish() throws {
        try sink?.finish()
        finished = true
    }

    /// Removes the partial file.
    package func abort() {
        if !finished { sink?.abort() }
    }

    package func summary(clipsPastEnd: Int) -> AudioMixSummary {
        AudioMixSummary(
            format: format, frames: frames, peak: clipping.peak, clippingRuleEngaged: clipping.adjustedFrames > 0,
            framesAdjustedForClipping: clipping.adjustedFrames, clipsPastEnd: clipsPastEnd, file: filePath,
            pcm: captured.map { PCMBuffer(format: format, samples: $0) }, loudness: meter?.measurement)
    }
}
