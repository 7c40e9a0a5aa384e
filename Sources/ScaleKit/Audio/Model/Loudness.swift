import Foundation

/// Loudness figures of a rendering (ITU-R BS.1770-4 / EBU R128), see ``LoudnessMeter``.
public struct LoudnessMeasurement: Sendable, Hashable {
    /// Integrated loudness in LUFS, or `nil` when no 400 ms block reaches the
    /// absolute gate (−70 LUFS): silence, or audio shorter than 400 ms.
    public var integratedLUFS: Double?
    /// Loudness range in LU (EBU Tech 3342), or `nil` when no 3 s block passes its gates.
    public var loudnessRangeLU: Double?
    /// The true peak, linear (1.0 = full scale), over all channels.
    public var truePeak: Double

    /// The true peak in dBTP (−∞ for silence).
    public var truePeakDBTP: Double { 20 * log10(truePeak) }

    /// A measurement with the given figures (`nil` loudness: nothing above the gates).
    public init(integratedLUFS: Double?, loudnessRangeLU: Double?, truePeak: Double) {
        self.integratedLUFS = integratedLUFS
        self.loudnessRangeLU = loudnessRangeLU
        self.truePeak = truePeak
    }
}

/// A loudness to normalise an output to, with a true-peak ceiling.
///
/// The mixer renders as usual while measuring, then applies one constant gain,
/// `target − measured`, lowered if needed so that `true peak + gain ≤ ceiling`
/// (so a loud target on peaky audio lands below the target rather than clipping).
public struct LoudnessTarget: Sendable, Hashable {
    /// The integrated loudness wanted, in LUFS (−16 for podcasts, −23 for EBU R128 broadcast).
    public var integratedLUFS: Double
    /// The highest true peak allowed after the gain, in dBTP.
    public var truePeakCeilingDBTP: Double

    /// Accepted targets: from the absolute gate to full scale.
    public static let integratedRange: ClosedRange<Double> = -70...0
    /// Accepted true-peak ceilings.
    public static let truePeakCeilingRange: ClosedRange<Double> = -30...0

    /// A target of `integratedLUFS` with a ceiling of `truePeakCeilingDBTP` (default −1 dBTP);
    /// checked by ``validate()`` when a render starts.
    public init(integratedLUFS: Double, truePeakCeilingDBTP: Double = -1) {
        self.integratedLUFS = integratedLUFS
        self.truePeakCeilingDBTP = truePeakCeilingDBTP
    }

    /// - Throws: ``ScaleKitError/Code/invalidArgument`` naming the value unless both are finite and in range.
    public func validate() throws(ScaleKitError) {
        try AudioLimits.check(integratedLUFS, in: Self.integratedRange, "the loudness target", unit: "LUFS")
        try AudioLimits.check(truePeakCeilingDBTP, in: Self.truePeakCeilingRange, "the true-peak ceiling", unit: "dBTP")
    }
}

/// What loudness normalisation did, in ``AudioMixSummary/normalisation``.
public struct LoudnessNormalisation: Sendable, Hashable {
    /// The target asked for.
    public var target: LoudnessTarget
    /// The rendering as measured before the gain.
    public var before: LoudnessMeasurement
    /// The gain applied to every sample, in dB (0 when the rendering was silent).
    public var gainDB: Double
    /// Whether the true-peak ceiling lowered the gain below `target − measured`.
    public var limitedByTruePeak: Bool

    /// What a normalisation did: its target, the measurement before, the gain applied and whether the ceiling limited it.
    public init(target: LoudnessTarget, before: LoudnessMeasurement, gainDB: Double, limitedByTruePeak: Bool) {
        self.target = target
        self.before = before
        self.gainDB = gainDB
        self.limitedByTruePeak = limitedByTruePeak
    }

    /// The one gain that brings `before` to `target` without passing the ceiling.
    ///
    /// Silence (no block above the absolute gate) is left as it is: gain 0 dB.
    /// There is nothing to bring to a loudness, and a silent track is a valid
    /// render, so it is not an error.
    package static func plan(target: LoudnessTarget, before: LoudnessMeasurement) -> LoudnessNormalisation {
        guard let measured = before.integratedLUFS else {
            return LoudnessNormalisation(target: target, before: before, gainDB: 0, limitedByTruePeak: false)
        }
        let wanted = target.integratedLUFS - measured
        let peak = before.truePeakDBTP
        if peak.isFinite, peak + wanted > target.truePeakCeilingDBTP {
            return LoudnessNormalisation(target: target, before: before, gainDB: target.truePeakCeilingDBTP - peak, limitedByTruePeak: true)
        }
        return LoudnessNormalisation(target: target, before: before, gainDB: wanted, limitedByTruePeak: false)
    }
}
