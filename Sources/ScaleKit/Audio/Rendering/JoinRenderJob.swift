/// Plays segments back to back, window by window, with one segment open at a time.
package final class JoinRenderJob: AudioRenderJob {
    private let output: RenderOutput
    private let open: PCMSourceOpener
    private let segments: [AudioSource]
    private let channels: Int
    private let windowFrames: Int
    private let gapFrames: Int
    private var nextSegment = 0
    private var current: (any PCMFrameSource)?
    private var gapRemaining = 0
    private var position = 0
    private var done = false
    private var buffer: [Float]

    /// Validates the request; opens nothing yet.
    package init(join: AudioJoin, output: RenderOutput, windowSeconds: Double = defaultWindowSeconds, open: @escaping PCMSourceOpener) throws {
        try join.validate(maximumDuration: output.maximumDuration)
        try AudioLimits.check(windowSeconds, in: AudioLimits.windowSeconds, "the mixer's window", unit: "s")
        self.output = output
        self.open = open
        segments = join.segments
        channels = output.format.channels
        windowFrames = max(64, output.format.frameIndex(atSeconds: windowSeconds))
        gapFrames = output.format.frameIndex(atSeconds: join.gap)
        buffer = [Float](repeating: 0, count: windowFrames * channels)
    }

    package var progress: AudioProgress {
        let seconds = Double(position) / Double(output.format.sampleRate)
        if done { return AudioProgress(secondsDone: seconds, secondsTotal: seconds, fractionCompleted: 1) }
        let started = current == nil ? nextSegment : nextSegment - 1
        return AudioProgress(secondsDone: seconds, secondsTotal: nil, fractionCompleted: Double(max(0, started)) / Double(segments.count))
    }

    package func renderNextWindow() throws -> Bool {
        guard !done else { return false }
        var filled = 0
        while filled < windowFrames {
            let space = windowFrames - filled
            if gapRemaining > 0 {
                let count = min(gapRemaining, space)
                for i in (filled * channels)..<((filled + count) * channels) { buffer[i] = 0 }
                filled += count
                gapRemaining -= count
                continue
            }
            if current == nil {
                guard nextSegment < segments.count else { break }
                current = try open(segments[nextSegment], SourceRequest(role: "segment \(nextSegment)"))
                nextSegment += 1
            }
            let got = try buffer.withUnsafeMutableBufferPointer { try current!.read(into: $0.baseAddress! + filled * channels, frames: space) }
            filled += got
            if got < space {
                current = nil
                if nextSegment < segments.count { gapRemaining = gapFrames }
            }
        }
        try buffer.withUnsafeMutableBufferPointer { try output.emit($0.baseAddress!, frames: filled) }
        position += filled
        if filled < windowFrames {
            done = true
            try output.finish()
            return false
        }
        return true
    }

    package func summary() -> AudioMixSummary { output.summary(clipsPastEnd: 0) }

    package func abort() {
        done = true
        current = nil
        output.abort()
    }
}
