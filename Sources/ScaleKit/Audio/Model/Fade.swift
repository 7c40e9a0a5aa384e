import Foundation

/// The shape of a fade's gain over its length.
///
/// Both curves are ffmpeg's (`afade`/`acrossfade` `curve=tri` and `curve=qsin`),
/// evaluated the same way: for the `i`-th of `n` frames of a fade in the
/// position is `p = i / n`, for a fade out `p = (n − i) / n`; the gain is
/// `p` (linear) or `sin(p · π/2)` (equal power), computed in double precision.
public struct FadeCurve: Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable { case linear, equalPower }
    private let kind: Kind

    /// Gain proportional to time: the sum of a linear fade out and fade in stays at full amplitude.
    public static let linear = FadeCurve(kind: .linear)
    /// A quarter sine: the summed power of an equal-power fade out and fade in stays constant,
    /// so a crossfade between unrelated material keeps its loudness.
    public static let equalPower = FadeCurve(kind: .equalPower)

    /// `linear` or `equal_power` (the timeline file's spelling; `equal-power` and ffmpeg's `tri`/`qsin` are read too).
    public init?(name: String) {
        switch name.lowercased() {
        case "linear", "tri": kind = .linear
        case "equal_power", "equal-power", "equalpower", "qsin": kind = .equalPower
        default: return nil
        }
    }

    private init(kind: Kind) { self.kind = kind }

    public var description: String { kind == .linear ? "linear" : "equal_power" }

    /// The gain at `index` of `range` (clamped to 0…1 first), as ffmpeg's `fade_gain`.
    package func gain(_ index: Int, of range: Int) -> Double {
        let position = min(max(Double(index) / Double(range), 0), 1)
        switch kind {
        case .linear: return position
        case .equalPower: return sin(position * Double.pi / 2)
        }
    }
}

/// A fade in or out over ``seconds`` with a ``curve``.
public struct Fade: Hashable, Sendable {
    /// Length of the fade in seconds, at the output rate; finite and > 0.
    public var seconds: Double
    /// The gain's shape.
    public var curve: FadeCurve

    /// A fade over `seconds` (linear by default); checked when a mixer renders it.
    public init(seconds: Double, curve: FadeCurve = .linear) {
        self.seconds = seconds
        self.curve = curve
    }
}

/// Which part of a clip's source plays: from ``offset`` seconds into it, for
/// ``duration`` seconds (or to its end when `nil`).
///
/// Both are measured at the output rate after resampling (ffmpeg:
/// `aresample` then `atrim`), so a cut lands on whole output frames:
/// `round(offset × rate)` frames are skipped, `round(duration × rate)` kept.
public struct Trim: Hashable, Sendable {
    /// Seconds skipped at the start of the source; finite and ≥ 0.
    public var offset: Double
    /// Seconds played after the offset, or `nil` for the rest of the source; finite and > 0.
    public var duration: Double?

    /// A trim from `offset` for `duration` (to the end when `nil`); checked when
    /// a mixer renders it.
    public init(offset: Double = 0, duration: Double? = nil) {
        self.offset = offset
        self.duration = duration
    }
}
