import Foundation

/// A segment placed on a timeline: its source, where it starts and its gain.
public struct TimelineClip: Sendable {
    /// What plays.
    public var source: AudioSource
    /// Seconds from the start of the output; must be finite and ≥ 0.
    public var start: Double
    /// Gain in decibels (0 = unchanged, −6.02 ≈ half amplitude).
    public var gainDB: Double

    public init(source: AudioSource, start: Double, gainDB: Double = 0) {
        self.source = source
        self.start = start
        self.gainDB = gainDB
    }
}

/// A track that plays under the clips from time 0 and sets the output's length.
public struct BackgroundTrack: Sendable {
    /// What plays.
    public var source: AudioSource
    /// Gain in decibels.
    public var gainDB: Double
    /// Lower the background while clips play, or `nil` to keep it constant.
    public var ducking: Ducking?

    public init(source: AudioSource, gainDB: Double = 0, ducking: Ducking? = nil) {
        self.source = source
        self.gainDB = gainDB
        self.ducking = ducking
    }
}

/// Ducking: the background's gain drops by ``depthDB`` while any clip plays.
///
/// When a clip starts the background's gain slides linearly to the ducked
/// level over ``rampSeconds``; when the last playing clip ends it slides back
/// over the same time. The envelope is sample-exact and identical in every
/// mixer.
public struct Ducking: Sendable, Hashable {
    /// How far the background drops, in dB (positive, for example 12).
    public var depthDB: Double
    /// How long the slide down and back up takes.
    public var rampSeconds: Double

    public init(depthDB: Double = 12, rampSeconds: Double = 0.1) {
        self.depthDB = depthDB
        self.rampSeconds = rampSeconds
    }
}

/// Clips placed at start times over an optional background.
///
/// The meaning, shared by every ``AudioMixing`` backend:
/// `out[t] = g_bg·duck(t)·bg[t] + Σ gᵢ·clipᵢ[t − startᵢ]`, gains as
/// 10^(dB/20), a plain float sum (never divided by the number of inputs),
/// every input resampled to the output rate, mono copied to both channels at
/// unity. The output lasts as long as the background, or without one until
/// the end of the last clip. Samples beyond full scale follow the output's
/// ``ClippingRule``.
public struct AudioTimeline: Sendable {
    /// The clips, in any order.
    public var clips: [TimelineClip]
    /// The background, or `nil`.
    public var background: BackgroundTrack?
    /// The output format the timeline file asked for (`sample_rate_out`, `channels_out`), if any.
    public var preferredFormat: AudioFormat?

    public init(clips: [TimelineClip], background: BackgroundTrack? = nil, preferredFormat: AudioFormat? = nil) {
        self.clips = clips
        self.background = background
        self.preferredFormat = preferredFormat
    }

    /// Throws ``ScaleKitError/Code/invalidTimeline`` for a timeline with no clips and
    /// ``ScaleKitError/Code/invalidArgument`` naming the clip and the range for
    /// a start outside `0..<maximumDuration` seconds, a gain outside
    /// ``AudioLimits/gainDB`` or ducking outside ``AudioLimits/duckingDepthDB``
    /// and ``AudioLimits/duckingRampSeconds``. Checked before anything renders,
    /// so a clip at 100 000 s is refused instead of writing a day of silence.
    package func validate(maximumDuration: Double = AudioLimits.defaultMaximumDuration) throws {
        guard !clips.isEmpty else {
            throw ScaleKitError(.invalidTimeline, "the timeline has no clips")
        }
        for (index, clip) in clips.enumerated() {
            let field = "clip \(index) (\(clip.source.name))"
            guard clip.start.isFinite, clip.start >= 0, clip.start < maximumDuration else {
                throw ScaleKitError(
                    .invalidArgument,
                    "\(field) start is \(clip.start) s; starts must be within 0..<\(maximumDuration) s, the output's maximum duration (raise it with AudioOutput.maximumDuration or --max-duration)")
            }
            try AudioLimits.check(clip.gainDB, in: AudioLimits.gainDB, "\(field) gain", unit: "dB")
        }
        if let background {
            try AudioLimits.check(background.gainDB, in: AudioLimits.gainDB, "background (\(background.source.name)) gain", unit: "dB")
            if let ducking = background.ducking {
                try AudioLimits.check(ducking.depthDB, in: AudioLimits.duckingDepthDB, "ducking depth", unit: "dB")
                try AudioLimits.check(ducking.rampSeconds, in: AudioLimits.duckingRampSeconds, "ducking ramp", unit: "s")
            }
        }
    }
}

/// Segments played back to back, with an optional silent gap between neighbours.
public struct AudioJoin: Sendable {
    /// The segments, in output order.
    public var segments: [AudioSource]
    /// Seconds of silence between two segments (none before the first or after the last).
    public var gap: Double

    public init(segments: [AudioSource], gap: Double = 0) {
        self.segments = segments
        self.gap = gap
    }

    /// Throws ``ScaleKitError/Code/invalidTimeline`` for no segments and
    /// ``ScaleKitError/Code/invalidArgument`` for a gap that is not finite and
    /// ≥ 0, or whose silences alone exceed `maximumDuration` seconds.
    package func validate(maximumDuration: Double = AudioLimits.defaultMaximumDuration) throws {
        guard !segments.isEmpty else {
            throw ScaleKitError(.invalidTimeline, "nothing to join: no segments")
        }
        guard gap.isFinite, gap >= 0, gap * Double(segments.count - 1) <= maximumDuration else {
            throw ScaleKitError(
                .invalidArgument,
                "join gap is \(gap) s; it must be finite, ≥ 0, and the \(segments.count - 1) gap(s) together at most \(maximumDuration) s, the output's maximum duration")
        }
    }
}

/// Decibels to a linear amplitude factor.
package func linearGain(decibels: Double) -> Float {
    Float(pow(10, decibels / 20))
}
