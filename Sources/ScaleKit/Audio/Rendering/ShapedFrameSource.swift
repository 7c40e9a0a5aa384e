/// A clip's source cut to its ``Trim`` and shaped by its fades, at the output rate.
///
/// The inner source delivers resampled frames (with the gain applied or not,
/// as it says); this skips `round(offset × rate)` frames, stops after
/// `round(duration × rate)`, and multiplies the first fade-in frames and the
/// last fade-out frames by the fade's gain (ffmpeg's `atrim` then `afade`).
/// The end of a source is known only when it is reached, so a fade out reads
/// its length ahead: the look-ahead is the fade's frames, whatever the clip's length.
package final class ShapedFrameSource: PCMFrameSource {
    private let inner: any PCMFrameSource
    private let channels: Int
    private let skipFrames: Int
    private let limit: Int?
    private let fadeIn: (frames: Int, curve: FadeCurve)?
    private let fadeOut: (frames: Int, curve: FadeCurve)?
    /// Frames read from `inner` after the skip, relative to the clip's nominal start (the lead is negative).
    private var readPosition: Int
    /// Frames handed out, on the same scale.
    private var deliverPosition: Int
    private var skipped = false
    private var innerEnded = false
    private var held: [Float] = []
    private var heldHead = 0
    private var scratch: [Float] = []

    package let leadingFrames: Int
    package var gainApplied: Bool { inner.gainApplied }
    package let estimatedFrames: Int?

    /// `inner` must have been opened without leading frames when the trim skips or a fade in is set.
    package init(_ inner: any PCMFrameSource, trim: Trim?, fadeIn: Fade?, fadeOut: Fade?, format: AudioFormat) {
        self.inner = inner
        channels = format.channels
        leadingFrames = inner.leadingFrames
        let skip = trim.map { format.frameIndex(atSeconds: $0.offset) } ?? 0
        let limit = trim?.duration.map { format.frameIndex(atSeconds: $0) }
        skipFrames = skip
        self.limit = limit
        self.fadeIn = fadeIn.map { (max(1, format.frameIndex(atSeconds: $0.seconds)), $0.curve) }
        self.fadeOut = fadeOut.map { (max(1, format.frameIndex(atSeconds: $0.seconds)), $0.curve) }
        readPosition = -inner.leadingFrames
        deliverPosition = -inner.leadingFrames
        var estimate = inner.estimatedFrames.map { max(0, $0 - skip) }
        if let limit { estimate = min(estimate ?? limit, limit) }
        estimatedFrames = estimate
    }

    private var heldFrames: Int { (held.count - heldHead) / channels }

    package func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        if !skipped {
            try skip()
            skipped = true
        }
        let lookAhead = fadeOut?.frames ?? 0
        while !innerEnded, heldFrames < frames + lookAhead { try fill(atLeast: frames + lookAhead - heldFrames) }
        let count = min(frames, innerEnded ? heldFrames : heldFrames - lookAhead)
        guard count > 0 else { return 0 }
        held.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + heldHead, count: count * channels) }
        heldHead += count * channels
        if heldHead * 2 >= held.count {
            held.removeFirst(heldHead)
            heldHead = 0
        }
        shape(buffer, frames: count, from: deliverPosition)
        deliverPosition += count
        return count
    }

    /// Reads and drops the trim's offset.
    private func skip() throws {
        var left = skipFrames
        if scratch.count < 4_096 * channels { scratch = [Float](repeating: 0, count: 4_096 * channels) }
        while left > 0 {
            let got = try scratch.withUnsafeMutableBufferPointer { try inner.read(into: $0.baseAddress!, frames: min(left, 4_096)) }
            if got == 0 {
                innerEnded = true
                return
            }
            left -= got
        }
    }

    /// Appends at least `wanted` frames from `inner` to `held`, or fewer at its end (or the trim's).
    private func fill(atLeast wanted: Int) throws {
        var want = max(wanted, 4_096)
        if let limit { want = min(want, limit - readPosition) }
        guard want > 0 else {
            innerEnded = true
            return
        }
        if scratch.count < want * channels { scratch = [Float](repeating: 0, count: want * channels) }
        let got = try scratch.withUnsafeMutableBufferPointer { try inner.read(into: $0.baseAddress!, frames: want) }
        held.append(contentsOf: scratch[0..<(got * channels)])
        readPosition += got
        if got < want { innerEnded = true }
        if let limit, readPosition >= limit { innerEnded = true }
    }

    /// Applies the fades to `frames` frames that start at clip frame `start`.
    private func shape(_ buffer: UnsafeMutablePointer<Float>, frames: Int, from start: Int) {
        if let fadeIn {
            let end = min(start + frames, fadeIn.frames)
            if start < end {
                for index in max(0, start)..<end {
                    let gain = fadeIn.curve.gain(index, of: fadeIn.frames)
                    let base = (index - start) * channels
                    for c in 0..<channels { buffer[base + c] = Float(Double(buffer[base + c]) * gain) }
                }
            }
        }
        if let fadeOut, innerEnded {
            // The end is known once the inner source has ended: the last frame handed out is readPosition − 1.
            let fadeStart = readPosition - fadeOut.frames
            let from = max(start, fadeStart)
            if from < start + frames {
                for index in from..<(start + frames) {
                    let gain = fadeOut.curve.gain(readPosition - index, of: fadeOut.frames)
                    let base = (index - start) * channels
                    for c in 0..<channels { buffer[base + c] = Float(Double(buffer[base + c]) * gain) }
                }
            }
        }
    }
}

extension TimelineClip {
    /// Whether the clip is cut or faded (otherwise it plays whole, through the plain path).
    package var isShaped: Bool { trim != nil || fadeIn != nil || fadeOut != nil }
}

/// Delivers all but the last ``holdFrames`` frames of a source; once it has
/// ended (`read` returned fewer than asked), ``tail`` holds those frames
/// (fewer when the source was shorter). A join's crossfade mixes them with
/// the next segment's first frames.
package final class HoldBackFrameSource: PCMFrameSource {
    private let inner: any PCMFrameSource
    private let channels: Int
    package let holdFrames: Int
    private var held: [Float] = []
    private var heldHead = 0
    private var innerEnded = false
    private var scratch: [Float] = []

    package init(_ inner: any PCMFrameSource, holdFrames: Int, channels: Int) {
        self.inner = inner
        self.holdFrames = holdFrames
        self.channels = channels
    }

    package var estimatedFrames: Int? { inner.estimatedFrames.map { max(0, $0 - holdFrames) } }
    package var gainApplied: Bool { inner.gainApplied }

    private var heldFrames: Int { (held.count - heldHead) / channels }

    /// The held-back end of the source, interleaved; complete once the source has ended.
    package var tail: ArraySlice<Float> { held[heldHead...] }

    package func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        while !innerEnded, heldFrames < frames + holdFrames {
            let want = max(4_096, frames + holdFrames - heldFrames)
            if scratch.count < want * channels { scratch = [Float](repeating: 0, count: want * channels) }
            let got = try scratch.withUnsafeMutableBufferPointer { try inner.read(into: $0.baseAddress!, frames: want) }
            held.append(contentsOf: scratch[0..<(got * channels)])
            if got < want { innerEnded = true }
        }
        let count = min(frames, max(0, heldFrames - holdFrames))
        if count > 0 {
            held.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + heldHead, count: count * channels) }
            heldHead += count * channels
            if heldHead * 2 >= held.count {
                held.removeFirst(heldHead)
                heldHead = 0
            }
        }
        return count
    }
}
