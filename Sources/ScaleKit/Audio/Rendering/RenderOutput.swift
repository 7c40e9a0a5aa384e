/// The end of every render: clipping rule, statistics, the file sink and the optional in-memory capture.
package final class RenderOutput {
    package let format: AudioFormat
    private let sink: (any PCMFrameSink)?
    private let filePath: String?
    private var clipping: ClippingStage
    private var captured: [Float]?
    package private(set) var frames = 0
    private var finished = false

    package init(output: AudioOutput, sink: (any PCMFrameSink)?) {
        format = output.format
        self.sink = sink
        filePath = output.file?.path
        clipping = ClippingStage(rule: output.clipping, format: output.format)
        captured = output.capturesPCM ? [] : nil
    }

    /// Applies the clipping rule to `count` frames in place, then writes and captures them.
    package func emit(_ samples: UnsafeMutablePointer<Float>, frames count: Int) throws {
        guard count > 0 else { return }
        try clipping.process(samples, frames: count, startFrame: frames, sampleRate: format.sampleRate)
        try sink?.write(samples, frames: count)
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
            pcm: captured.map { PCMBuffer(format: format, samples: $0) })
    }
}
