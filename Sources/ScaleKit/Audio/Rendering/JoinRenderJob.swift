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
    private let crossfadeFrames: Int
    private let crossfadeCurve: FadeCurve
    /// The previous segment's held-back end, waiting for the next segment's start.
    private var pendingTail: [Float]?
    /// A finished crossfade, being copied out.
    private var crossfaded: [Float] = []
    private var crossfadedCursor = 0

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
        crossfadeFrames = join.crossfade.map { max(1, output.format.frameIndex(atSeconds: $0.seconds)) } ?? 0
        crossfadeCurve = join.crossfade?.curve ?? .linear
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
            if crossfadedCursor < crossfaded.count {
                let count = min(space, (crossfaded.count - crossfadedCursor) / channels)
                buffer.withUnsafeMutableBufferPointer { window in
                    crossfaded.withUnsafeBufferPointer {
                        (window.baseAddress! + filled * channels).update(from: $0.baseAddress! + crossfadedCursor, count: count * channels)
                    }
                }
                crossfadedCursor += count * channels
                filled += count
                continue
            }
            if current == nil {
                guard nextSegment < segments.count else { break }
                try openNextSegment()
                continue  // a crossfade, if any, comes first
            }
            let got = try buffer.withUnsafeMutableBufferPointer { try current!.read(into: $0.baseAddress! + filled * channels, frames: space) }
            filled += got
            if got < space {
                if let held = current as? HoldBackFrameSource {
                    guard held.tail.count == crossfadeFrames * channels else { throw tooShort(nextSegment - 1) }
                    pendingTail = Array(held.tail)
                }
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

    /// Opens the next segment; with a crossfade, holds back its end (unless it is the last)
    /// and mixes its start with the previous segment's held-back end.
    private func openNextSegment() throws {
        let index = nextSegment
        var source = try open(segments[index], SourceRequest(role: "segment \(index)"))
        nextSegment += 1
        if crossfadeFrames > 0, index + 1 < segments.count {
            source = HoldBackFrameSource(source, holdFrames: crossfadeFrames, channels: channels)
        }
        if let tail = pendingTail {
            var head = [Float](repeating: 0, count: crossfadeFrames * channels)
            var got = 0
            while got < crossfadeFrames {
                let more = try head.withUnsafeMutableBufferPointer { try source.read(into: $0.baseAddress! + got * channels, frames: crossfadeFrames - got) }
                if more == 0 { break }
                got += more
            }
            guard got == crossfadeFrames else { throw tooShort(index) }
            // ffmpeg's acrossfade: frame i of n mixes the end at curve((n − 1 − i) / n) with the start at curve(i / n), in double.
            for i in 0..<crossfadeFrames {
                let fadingOut = crossfadeCurve.gain(crossfadeFrames - 1 - i, of: crossfadeFrames)
                let fadingIn = crossfadeCurve.gain(i, of: crossfadeFrames)
                for c in 0..<channels {
                    let k = i * channels + c
                    head[k] = Float(Double(tail[k]) * fadingOut + Double(head[k]) * fadingIn)
                }
            }
            crossfaded = head
            crossfadedCursor = 0
            pendingTail = nil
        }
        current = source
    }

    private func tooShort(_ index: Int) -> ScaleKitError {
        let inner = index > 0 && index + 1 < segments.count
        return ScaleKitError(
            .invalidArgument,
            "segment \(index) is shorter than \(inner ? "twice " : "")the join's crossfade of \(crossfadeFrames) frames (each end of a segment fades into a neighbour)")
    }

    package func summary() -> AudioMixSummary { output.summary(clipsPastEnd: 0) }

    package func abort() {
        done = true
        current = nil
        output.abort()
    }
}
