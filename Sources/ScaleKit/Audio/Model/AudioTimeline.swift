import Foundation

/// A segment placed on a timeline: its source, where it starts and its gain.
public struct TimelineClip: Sendable {
    /// What plays.
    public var source: AudioSource
    /// Seconds from the start of the output; must be finite and ≥ 0.
    public var start: Double
    /// Gain in decibels (0 = unchanged, −6.02 ≈ half amplitude).
    public var gainDB: Double
    /// The part of the source that plays, or `nil` for all of it.
    public var trim: Trim?
    /// A fade in over the first seconds that play, or `nil`.
    public var fadeIn: Fade?
    /// A fade out over the last seconds that play (the end of the trim or of the source), or `nil`.
    public var fadeOut: Fade?

    /// A clip of `source` at `start` seconds, with optional gain, trim and fades.
    public init(source: AudioSource, start: Double, gainDB: Double = 0, trim: Trim? = nil, fadeIn: Fade? = nil, fadeOut: Fade? = nil) {
        self.source = source
        self.start = start
        self.gainDB = gainDB
        self.trim = trim
        self.fadeIn = fadeIn
        self.fadeOut = fadeOut
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

    /// A background of `source`, with optional gain and ducking.
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

    /// Ducking by `depthDB` (12 dB by default) with `rampSeconds` slides (0.1 s).
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

    /// A timeline; checked when a mixer renders it, not here.
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
            if let trim = clip.trim {
                try AudioLimits.check(trim.offset, in: 0...maximumDuration, "\(field) trim offset", unit: "s")
                if let duration = trim.duration {
                    try AudioLimits.check(duration, in: AudioLimits.fadeSeconds.lowerBound...maximumDuration, "\(field) trim duration", unit: "s")
                }
            }
            if let fade = clip.fadeIn { try AudioLimits.check(fade.seconds, in: AudioLimits.fadeSeconds, "\(field) fade in", unit: "s") }
            if let fade = clip.fadeOut { try AudioLimits.check(fade.seconds, in: AudioLimits.fadeSeconds, "\(field) fade out", unit: "s") }
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
    /// Overlap neighbouring segments by this fade, or `nil` to play them back to back.
    ///
    /// The last `round(seconds × rate)` frames of a segment are mixed with the
    /// first frames of the next, the first fading out and the second fading in
    /// (ffmpeg's `acrossfade`: frame `i` of `n` gets `curve((n − 1 − i) / n)` and
    /// `curve(i / n)`), so the join is that many frames shorter per neighbour.
    /// Every segment must be at least that long; a crossfade excludes a gap.
    public var crossfade: Fade?

    /// A join of `segments`, with an optional gap or crossfade (not both);
    /// checked when a mixer renders it, not here.
    public init(segments: [AudioSource], gap: Double = 0, crossfade: Fade? = nil) {
        self.segments = segments
        self.gap = gap
        self.crossfade = crossfade
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
        if let crossfade {
            try AudioLimits.check(crossfade.seconds, in: AudioLimits.fadeSeconds, "join crossfade", unit: "s")
            guard gap == 0 else {
                throw ScaleKitError(.invalidArgument, "a join has either a crossfade or a gap, not both (gap \(gap) s, crossfade \(crossfade.seconds) s)")
            }
        }
    }
}

/// Decibels to a linear amplitude factor.
package func linearGain(decibels: Double) -> Float {
    Float(pow(10, decibels / 20))
}
