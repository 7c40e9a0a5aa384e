import Foundation

/// Measures integrated loudness (ITU-R BS.1770-4, EBU R128), loudness range
/// (EBU Tech 3342) and true peak of interleaved float audio, streaming.
///
/// - K-weighting with coefficients for the actual sample rate (see libebur128).
/// - Gating blocks of 400 ms every 100 ms (75 % overlap), the first ending at
///   400 ms; a last partial 100 ms is not a block, as in ffmpeg's `ebur128`.
/// - Absolute gate −70 LUFS, relative gate −10 LU below the mean of the
///   blocks above the absolute gate; the integrated loudness is the loudness
///   of the mean energy of the blocks above both.
/// - Channel weights 1.0 for L, R and C, 1.41 for surround, 0 for LFE
///   (layouts in ffmpeg's default order, see ``defaultChannelWeights(channels:)``).
/// - Loudness range from 3 s blocks every 100 ms, gates −70 LUFS and −20 LU,
///   10th to 95th percentile.
/// - True peak by 4× polyphase oversampling (2× from 96 kHz, none from 192 kHz).
///
/// Memory is fixed whatever the audio's length: the block energies go into a
/// histogram of 0.01 LU bins. Non-finite samples count as silence.
public struct LoudnessMeter: Sendable {
    /// The sample rate the meter was made for, in Hz.
    public let sampleRate: Int
    /// The number of interleaved channels the meter expects.
    public let channels: Int
    /// The weight of each channel's mean square.
    public let channelWeights: [Double]

    private var filter: KWeightingFilter
    private var truePeak: TruePeakInterpolator
    /// Frames in one 100 ms segment (rate / 10, as ffmpeg).
    private let segmentFrames: Int
    private var framesInSegment = 0
    /// Per channel: the K-weighted sum of squares of the segment being filled.
    private var currentSums: [Double]
    /// Channel-weighted sums of squares of the last 30 complete segments (3 s), oldest overwritten.
    private var recentSegments: [Double]
    private var completedSegments = 0
    private var momentary = GatingHistogram()
    private var shortTerm = GatingHistogram()

    /// Channel weights for 1 to 6 channels in ffmpeg's default layouts:
    /// mono; L R; L R C; L R Ls Rs (quad); L R C Ls Rs; L R C LFE Ls Rs (5.1).
    public static func defaultChannelWeights(channels: Int) -> [Double]? {
        switch channels {
        case 1: [1]
        case 2: [1, 1]
        case 3: [1, 1, 1]
        case 4: [1, 1, 1.41, 1.41]
        case 5: [1, 1, 1, 1.41, 1.41]
        case 6: [1, 1, 1, 0, 1.41, 1.41]
        default: nil
        }
    }

    /// A meter for `channels` interleaved channels at `sampleRate`.
    /// - Parameters:
    ///   - sampleRate: frames per second of the audio to be fed; the K-weighting is derived for it.
    ///   - channels: samples per interleaved frame.
    ///   - channelWeights: one weight per channel, or `nil` for ``defaultChannelWeights(channels:)``.
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` for a rate outside 1 000…768 000 Hz,
    ///   or a layout without default weights and none given (or a weight list of the wrong length).
    public init(sampleRate: Int, channels: Int, channelWeights: [Double]? = nil) throws(ScaleKitError) {
        guard (1_000...768_000).contains(sampleRate) else {
            throw ScaleKitError(.invalidArgument, "the loudness meter's sample rate \(sampleRate) Hz is outside 1000…768000")
        }
        guard let weights = channelWeights ?? Self.defaultChannelWeights(channels: channels), weights.count == channels, channels > 0,
            weights.allSatisfy({ $0.isFinite && $0 >= 0 })
        else {
            throw ScaleKitError(.invalidArgument, "the loudness meter needs one finite, non-negative weight per channel for \(channels) channels")
        }
        self.sampleRate = sampleRate
        self.channels = channels
        self.channelWeights = weights
        filter = KWeightingFilter(sampleRate: sampleRate, channels: channels)
        truePeak = TruePeakInterpolator(sampleRate: sampleRate, channels: channels)
        segmentFrames = sampleRate / 10
        currentSums = [Double](repeating: 0, count: channels)
        recentSegments = [Double](repeating: 0, count: 30)
    }

    /// Feeds interleaved samples; a trailing partial frame is ignored.
    public mutating func add(_ samples: UnsafeBufferPointer<Float>) {
        guard let base = samples.baseAddress else { return }
        let frames = samples.count / channels
        truePeak.add(base, frames: frames)
        var done = 0
        while done < frames {
            let count = min(frames - done, segmentFrames - framesInSegment)
            let start = base + done * channels
            for channel in 0..<channels {
                currentSums[channel] += filter.sumOfSquares(start, frames: count, channel: channel)
            }
            framesInSegment += count
            done += count
            if framesInSegment == segmentFrames { completeSegment() }
        }
    }

    /// Feeds interleaved samples.
    public mutating func add(_ samples: [Float]) {
        samples.withUnsafeBufferPointer { add($0) }
    }

    private mutating func completeSegment() {
        var weighted = 0.0
        for channel in 0..<channels { weighted += channelWeights[channel] * currentSums[channel] }
        recentSegments[completedSegments % 30] = weighted
        completedSegments += 1
        for channel in 0..<channels { currentSums[channel] = 0 }
        framesInSegment = 0
        if completedSegments >= 4 { momentary.add(power: meanPower(ofLast: 4)) }
        if completedSegments >= 30 { shortTerm.add(power: meanPower(ofLast: 30)) }
    }

    private func meanPower(ofLast segments: Int) -> Double {
        var sum = 0.0
        for back in 1...segments { sum += recentSegments[(completedSegments - back) % 30] }
        return sum / Double(segments * segmentFrames)
    }

    /// What the audio fed so far measures.
    public var measurement: LoudnessMeasurement {
        let peak = Double(truePeak.peaks.max() ?? 0)
        return LoudnessMeasurement(
            integratedLUFS: momentary.gatedMeanLoudness(relativeGateLU: -10),
            loudnessRangeLU: shortTerm.loudnessRange(relativeGateLU: -20),
            truePeak: peak)
    }
}
