import Foundation

/// What a finished join or mix produced.
public struct AudioMixSummary: Sendable {
    /// The output format.
    public var format: AudioFormat
    /// Frames written.
    public var frames: Int
    /// The largest absolute sample of the sum before the clipping rule (1.0 = full scale);
    /// with a loudness target, before the normalising gain.
    public var peak: Float
    /// Whether the clipping rule changed any sample (limiter gain reduction or clamping).
    public var clippingRuleEngaged: Bool
    /// Frames the clipping rule changed.
    public var framesAdjustedForClipping: Int
    /// Clips that start at or after the end of the output (the background's end) and were not heard.
    public var clipsPastEnd: Int
    /// The file written, if any.
    public var file: String?
    /// The mixed samples, when the output asked for ``AudioOutput/capturesPCM``.
    public var pcm: PCMBuffer?
    /// Loudness and true peak of the output as written (after normalisation,
    /// before 16-bit rounding or lossy encoding), when the output asked for
    /// ``AudioOutput/measuresLoudness`` or a ``AudioOutput/loudnessTarget``.
    public var loudness: LoudnessMeasurement?
    /// What normalising to ``AudioOutput/loudnessTarget`` measured and did; `nil` without a target.
    public var normalisation: LoudnessNormalisation?

    /// Length in seconds.
    public var duration: Double { Double(frames) / Double(format.sampleRate) }

    /// The peak in dBFS (−∞ for silence).
    public var peakDBFS: Double { 20 * log10(Double(peak)) }

    /// A summary; the mixers create these.
    public init(
        format: AudioFormat, frames: Int, peak: Float, clippingRuleEngaged: Bool, framesAdjustedForClipping: Int,
        clipsPastEnd: Int, file: String?, pcm: PCMBuffer?, loudness: LoudnessMeasurement? = nil, normalisation: LoudnessNormalisation? = nil
    ) {
        self.loudness = loudness
        self.normalisation = normalisation
        self.format = format
        self.frames = frames
        self.peak = peak
        self.clippingRuleEngaged = clippingRuleEngaged
        self.framesAdjustedForClipping = framesAdjustedForClipping
        self.clipsPastEnd = clipsPastEnd
        self.file = file
        self.pcm = pcm
    }
}

/// How far a join or mix has come; passed to the progress handler after every window.
public struct AudioProgress: Sendable {
    /// Seconds of output written.
    public var secondsDone: Double
    /// The expected output length in seconds, when known (from the background's or clips' container headers).
    public var secondsTotal: Double?
    /// 0…1, a best estimate (a join counts segments when lengths are not known).
    public var fractionCompleted: Double

    /// A progress report; the mixers create these.
    public init(secondsDone: Double, secondsTotal: Double?, fractionCompleted: Double) {
        self.secondsDone = secondsDone
        self.secondsTotal = secondsTotal
        self.fractionCompleted = fractionCompleted
    }
}

/// Called on the mixing task after each window. Keep it quick.
public typealias AudioProgressHandler = @Sendable (AudioProgress) -> Void
