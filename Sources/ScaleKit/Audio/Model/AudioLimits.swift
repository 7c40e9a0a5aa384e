/// The ranges the mixers check a timeline's, a join's and an output's
/// numbers against before rendering (listed in Docs/Limits.md).
///
/// A value outside its range is a ``ScaleKitError/Code/invalidArgument``
/// naming the field and the range, never a trap or a silent misrender
/// (a gain of +10 000 dB is infinite amplitude, which renders as NaN).
public enum AudioLimits {
    /// Clip and background gains, in dB: −120 dB is below 16-bit's noise floor, +60 dB a 1 000× boost.
    public static let gainDB: ClosedRange<Double> = -120...60
    /// How far ducking may lower the background, in dB.
    public static let duckingDepthDB: ClosedRange<Double> = 0...120
    /// How long the ducking slide may take, in seconds.
    public static let duckingRampSeconds: ClosedRange<Double> = 0...60
    /// Bits per second for lossy outputs (8 kbit/s … 1 536 kbit/s, what the encoders accept).
    public static let bitRate: ClosedRange<Int> = 8_000...1_536_000
    /// The longest output a render writes unless ``AudioOutput/maximumDuration`` says otherwise: 6 hours.
    public static let defaultMaximumDuration: Double = 6 * 3_600
    /// The largest ``AudioOutput/maximumDuration`` accepted: 7 days.
    public static let maximumDurationCeiling: Double = 7 * 86_400
    /// Fades, crossfades and trimmed durations, in seconds (a fade reads its length ahead, so it is bounded).
    public static let fadeSeconds: ClosedRange<Double> = 0.000_1...60
    /// The mixers' `windowSeconds`.
    public static let windowSeconds: ClosedRange<Double> = 0.001...60
    /// How far ahead of the mix `FFmpegAudioMixer` (ScaleKitAudio) decodes, in seconds (memory grows with it).
    public static let readAheadSeconds: ClosedRange<Double> = 0...60

    /// Throws ``ScaleKitError/Code/invalidArgument`` naming `field` unless `value` is finite and within `range`.
    package static func check(_ value: Double, in range: ClosedRange<Double>, _ field: String, unit: String) throws(ScaleKitError) {
        guard value.isFinite, range.contains(value) else {
            throw ScaleKitError(
                .invalidArgument, "\(field) is \(value) \(unit); it must be within \(range.lowerBound)…\(range.upperBound) \(unit)")
        }
    }
}
