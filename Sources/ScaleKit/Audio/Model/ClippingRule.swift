/// What a mixer does with a summed sample beyond full scale.
///
/// Mixers sum in 32-bit float and never divide by the number of inputs, so a
/// loud timeline can exceed full scale (±1.0). Nothing is ever wrapped
/// around; one of these rules applies, and ``AudioMixSummary`` reports the
/// peak before the rule and whether it engaged.
public enum ClippingRule: Sendable, Hashable {
    /// A peak limiter (the default): when a frame's loudest channel would
    /// exceed `ceiling` the gain drops at once so it lands exactly on the
    /// ceiling, then recovers linearly to unity over `releaseSeconds`. Both
    /// channels share the gain (the stereo image holds). A mix that never
    /// exceeds the ceiling passes through bit for bit.
    case limiter(ceiling: Float = 1.0, releaseSeconds: Double = 0.05)
    /// Clamp each sample to ±1.0 (hard clipping, audible, but reported).
    case hardClip
    /// Stop with ``ScaleKitError/Code/audioEncoding`` at the first sample beyond ±1.0; no file is left behind.
    case fail

    package func validate() throws {
        if case .limiter(let ceiling, let release) = self {
            guard ceiling > 0, ceiling <= 1, release.isFinite, release >= 0 else {
                throw ScaleKitError(.invalidArgument, "limiter ceiling must be in (0, 1] and release ≥ 0 s")
            }
        }
    }
}
