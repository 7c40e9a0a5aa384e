/// Applies a ``ClippingRule`` to finished windows and keeps the statistics the summary reports.
package struct ClippingStage {
    package let rule: ClippingRule
    private let channels: Int
    private let ceiling: Float
    private let releaseStep: Float
    private var gain: Float = 1
    /// Largest absolute sample seen before the rule.
    package private(set) var peak: Float = 0
    /// Frames the rule changed.
    package private(set) var adjustedFrames = 0

    package init(rule: ClippingRule, format: AudioFormat) {
        self.rule = rule
        channels = format.channels
        switch rule {
        case .limiter(let ceiling, let release):
            self.ceiling = ceiling
            let releaseFrames = max(1, release * Double(format.sampleRate))
            releaseStep = Float(1 / releaseFrames)
        case .hardClip, .fail:
            ceiling = 1
            releaseStep = 1
        }
    }

    /// Processes `frames` interleaved frames in place.
    /// - Throws: ``ScaleKitError/Code/audioEncoding`` under ``ClippingRule/fail`` when a sample exceeds ±1.
    package mutating func process(_ samples: UnsafeMutablePointer<Float>, frames: Int, startFrame: Int, sampleRate: Int) throws {
        // The common case first: nothing in the window reaches the ceiling and no
        // release is under way, so the rule changes nothing; one vectorisable
        // pass finds the peak. `max` keeps its first argument for a NaN exactly
        // as the per-frame loop below does, so both paths see the same peak.
        if gain >= 1 {
            var loudest: Float = 0
            for i in 0..<(frames * channels) { loudest = max(loudest, abs(samples[i])) }
            if loudest <= ceiling {
                if loudest > peak { peak = loudest }
                return
            }
        }
        for frame in 0..<frames {
            let base = frame * channels
            var loudest: Float = 0
            for c in 0..<channels { loudest = max(loudest, abs(samples[base + c])) }
            if loudest > peak { peak = loudest }
            if !(loudest <= ceiling) || gain < 1 {
                try adjust(samples + base, loudest: loudest, frame: startFrame + frame, sampleRate: sampleRate)
            }
        }
    }

    private mutating func adjust(_ frame: UnsafeMutablePointer<Float>, loudest: Float, frame index: Int, sampleRate: Int) throws {
        switch rule {
        case .fail:
            let seconds = Double(index) / Double(sampleRate)
            throw ScaleKitError(.audioEncoding, "the mix exceeds full scale (peak \(loudest)) at \(seconds) s and the clipping rule is .fail")
        case .hardClip:
            for c in 0..<channels { frame[c] = min(max(frame[c], -1), 1) }
            adjustedFrames += 1
        case .limiter:
            if !loudest.isFinite {
                // NaN or infinity cannot be scaled back into range: silence the frame.
                for c in 0..<channels { frame[c] = 0 }
                adjustedFrames += 1
                return
            }
            if loudest * gain > ceiling { gain = ceiling / loudest }
            for c in 0..<channels { frame[c] = min(max(frame[c] * gain, -ceiling), ceiling) }
            adjustedFrames += 1
            gain = min(1, gain + releaseStep)
        }
    }
}
