/// Joins audio segments and mixes timelines, in time and memory linear in
/// the input, never quadratic.
///
/// Every backend promises the same meaning (checked by the conformance suite
/// in `ScaleKitTesting`):
/// - Inputs are resampled to the output format; mono goes to both channels at
///   unity gain; samples are summed in float with no normalisation by the
///   number of inputs; starts land on the frame nearest `start × rate`.
/// - Work proceeds in windows of output: progress is reported after each
///   window, on the calling task, and cancelling the task stops at the next
///   window with ``ScaleKitError/Code/cancelled``, removing any partial file.
/// - File output is atomic (temporary file, then rename).
/// - With ``AudioOutput/loudnessTarget`` the output is normalised in two
///   passes (measure while rendering into a float intermediate, then one
///   gain) and ``AudioMixSummary/normalisation`` says what was done;
///   ``AudioOutput/measuresLoudness`` measures without changing anything.
/// - Bad input throws: ``ScaleKitError/Code/audioDecoding`` naming the file
///   for a missing, empty, truncated or undecodable input;
///   ``ScaleKitError/Code/invalidTimeline`` for an empty timeline or join;
///   ``ScaleKitError/Code/invalidArgument`` naming the clip for a negative
///   start, or naming the path for an unknown output extension;
///   ``ScaleKitError/Code/audioEncoding`` when the output cannot be written.
///
/// Decoding and encoding block, so backends run them off Swift's cooperative
/// thread pool.
public protocol AudioMixing: Sendable {
    /// Plays `join.segments` back to back with `join.gap` seconds of silence
    /// between neighbours, writing `output`.
    ///
    /// The output has exactly Σ segment frames (after resampling) + gap frames × (n − 1) frames.
    /// Only one segment is decoded at a time.
    func join(_ join: AudioJoin, into output: AudioOutput, progress: AudioProgressHandler?) async throws -> AudioMixSummary

    /// Mixes `timeline` (see ``AudioTimeline`` for the meaning), writing `output`.
    ///
    /// Streaming: a clip is opened when the output reaches its start and
    /// closed at its end, so memory depends on the window and the clips
    /// playing in it, not on the output's length or the number of clips.
    func mix(_ timeline: AudioTimeline, into output: AudioOutput, progress: AudioProgressHandler?) async throws -> AudioMixSummary
}

extension AudioMixing {
    /// ``join(_:into:progress:)`` without progress reports.
    public func join(_ join: AudioJoin, into output: AudioOutput) async throws -> AudioMixSummary {
        try await self.join(join, into: output, progress: nil)
    }

    /// ``mix(_:into:progress:)`` without progress reports.
    public func mix(_ timeline: AudioTimeline, into output: AudioOutput) async throws -> AudioMixSummary {
        try await mix(timeline, into: output, progress: nil)
    }
}
