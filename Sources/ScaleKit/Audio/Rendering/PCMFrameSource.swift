/// A stream of frames already converted to a render's output format
/// (rate and channels, interleaved float). One class per decoder; not
/// thread-safe, used by one render job on its executor.
package protocol PCMFrameSource: AnyObject {
    /// How many frames the source expects to deliver, when the container says.
    var estimatedFrames: Int? { get }
    /// Reads up to `frames` frames into `buffer`; returns fewer only at the end of the stream (then 0 forever).
    /// - Throws: ``ScaleKitError/Code/audioDecoding`` naming the source.
    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int
    /// Whether the source already multiplied its samples by ``SourceRequest/gain`` (the renderer then does not).
    var gainApplied: Bool { get }
    /// Frames the source delivers before the clip's nominal start: a resampler's
    /// pre-ringing, which belongs before the first sample just as it does when
    /// the clip is resampled as part of a continuous track. At most
    /// ``maximumLeadingSeconds`` of output.
    var leadingFrames: Int { get }
}

extension PCMFrameSource {
    package var gainApplied: Bool { false }
    package var leadingFrames: Int { 0 }
}

/// The upper bound on ``PCMFrameSource/leadingFrames``, in seconds: the renderer opens clips this much early.
package let maximumLeadingSeconds = 0.02

/// What the renderer asks of a source it opens.
package struct SourceRequest {
    /// Names the source in errors: "clip 3", "background", "segment 7".
    package var role: String
    /// The linear gain the renderer will apply unless the source applies it itself.
    package var gain: Float
    /// Whether the source may deliver ``PCMFrameSource/leadingFrames`` (clips of a mix; not joins or backgrounds).
    package var allowsLeadingFrames: Bool

    package init(role: String, gain: Float = 1, allowsLeadingFrames: Bool = false) {
        self.role = role
        self.gain = gain
        self.allowsLeadingFrames = allowsLeadingFrames
    }
}

/// Where a render's finished windows go (an encoder writing a temporary file).
package protocol PCMFrameSink: AnyObject {
    /// Appends interleaved float frames in the render's output format.
    func write(_ samples: UnsafePointer<Float>, frames: Int) throws
    /// Flushes, closes and atomically moves the file into place.
    func finish() throws
    /// Stops and removes the temporary file; safe to call twice or after `finish`.
    func abort()
}

/// Opens a source for a render.
package typealias PCMSourceOpener = (_ source: AudioSource, _ request: SourceRequest) throws -> any PCMFrameSource

/// Copies `frames` frames from `source` (with `sourceChannels`) to `destination` (with `destinationChannels`):
/// mono goes to both channels at unity, stereo becomes the average of left and right.
package func mapChannels(
    _ source: UnsafePointer<Float>, channels sourceChannels: Int,
    to destination: UnsafeMutablePointer<Float>, channels destinationChannels: Int, frames: Int
) {
    switch (sourceChannels, destinationChannels) {
    case (let a, let b) where a == b:
        destination.update(from: source, count: frames * a)
    case (1, 2):
        for i in 0..<frames {
            let value = source[i]
            destination[2 * i] = value
            destination[2 * i + 1] = value
        }
    case (2, 1):
        for i in 0..<frames {
            destination[i] = 0.5 * (source[2 * i] + source[2 * i + 1])
        }
    default:
        // More than two channels: keep the first `destinationChannels` (the mixers reject such inputs earlier).
        for i in 0..<frames {
            for c in 0..<destinationChannels {
                destination[i * destinationChannels + c] = source[i * sourceChannels + min(c, sourceChannels - 1)]
            }
        }
    }
}
