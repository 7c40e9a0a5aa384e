/// Mixes an ``AudioTimeline`` window by window.
///
/// Clips are sorted by start; a clip's source is opened when the window
/// reaches its start frame and released when it runs out, so only the
/// background and the clips audible in the current window are open.
///
/// With `readAheadSeconds`, the background and the clips are opened, decoded
/// and resampled on two ``ReadAheadLane`` threads up to that far ahead of the
/// window being mixed, while this job mixes and encodes: the same sources in
/// the same order, so the same samples, on up to three cores.
package final class TimelineRenderJob: AudioRenderJob {
    private struct PendingClip {
        var index: Int
        var clip: TimelineClip
        var startFrame: Int
    }

    private final class ActiveClip {
        let index: Int
        let source: any PCMFrameSource
        let gain: Float
        let startFrame: Int
        init(index: Int, source: any PCMFrameSource, gain: Float, startFrame: Int) {
            self.index = index
            self.source = source
            self.gain = gain
            self.startFrame = startFrame
        }
    }

    private let output: RenderOutput
    private let open: PCMSourceOpener
    private let channels: Int
    private let windowFrames: Int
    private let leadFrames: Int
    private let pending: [PendingClip]
    private var nextPending = 0
    private var active: [ActiveClip] = []
    private var background: (any PCMFrameSource)?
    private let backgroundGain: Float
    private var ducking: DuckingEnvelope?
    private var position = 0
    private var done = false
    private var speech: [Float]
    private var backgroundBuffer: [Float]
    private var scratch: [Float]
    private var coverage: [Bool]
    private let backgroundLane: ReadAheadLane?
    private let clipLane: ReadAheadLane?

    /// Validates the timeline and opens the background (not the clips).
    package init(
        timeline: AudioTimeline, output: RenderOutput, windowSeconds: Double = defaultWindowSeconds, readAheadSeconds: Double? = nil,
        open: @escaping PCMSourceOpener
    ) throws {
        try timeline.validate(maximumDuration: output.maximumDuration)
        try AudioLimits.check(windowSeconds, in: AudioLimits.windowSeconds, "the mixer's window", unit: "s")
        let format = output.format
        self.output = output
        self.open = open
        channels = format.channels
        windowFrames = max(64, format.frameIndex(atSeconds: windowSeconds))
        leadFrames = format.frameIndex(atSeconds: maximumLeadingSeconds)
        pending = timeline.clips.enumerated()
            .map { PendingClip(index: $0.offset, clip: $0.element, startFrame: format.frameIndex(atSeconds: $0.element.start)) }
            .sorted { ($0.startFrame, $0.index) < ($1.startFrame, $1.index) }
        speech = [Float](repeating: 0, count: windowFrames * channels)
        backgroundBuffer = speech
        scratch = speech
        coverage = [Bool](repeating: false, count: windowFrames)
        var lanes: (clips: ReadAheadLane, background: ReadAheadLane?)?
        if let readAheadSeconds {
            try AudioLimits.check(readAheadSeconds, in: AudioLimits.readAheadSeconds, "the mixer's read-ahead", unit: "s")
            let lookAhead = format.frameIndex(atSeconds: readAheadSeconds)
            let pending = pending
            let channels = format.channels
            let clips = ReadAheadLane(
                label: "scalekit.audio.clips", inputs: pending.map { ReadAheadLane.Input(startFrame: $0.startFrame) }, channels: channels,
                lookAheadFrames: lookAhead, maximumLeadFrames: leadFrames
            ) { try TimelineRenderJob.openClip(pending[$0], open: open, format: format) }
            let background = timeline.background.map { track in
                ReadAheadLane(label: "scalekit.audio.background", inputs: [.init(startFrame: 0)], channels: channels, lookAheadFrames: lookAhead) { _ in
                    try open(track.source, SourceRequest(role: "background"))
                }
            }
            lanes = (clips, background)
        }
        clipLane = lanes?.clips
        backgroundLane = lanes?.background
        if let track = timeline.background {
            do {
                background = try lanes?.background?.source(0) ?? open(track.source, SourceRequest(role: "background"))
            } catch {
                lanes?.clips.stop()
                lanes?.background?.stop()
                throw error
            }
            backgroundGain = linearGain(decibels: track.gainDB)
            ducking = track.ducking.map { DuckingEnvelope($0, sampleRate: format.sampleRate) }
        } else {
            backgroundGain = 1
        }
    }

    deinit { stopLanes() }

    private func stopLanes() {
        clipLane?.stop()
        backgroundLane?.stop()
    }

    package var progress: AudioProgress {
        let rate = Double(output.format.sampleRate)
        let seconds = Double(position) / rate
        if done { return AudioProgress(secondsDone: seconds, secondsTotal: seconds, fractionCompleted: 1) }
        if let total = background?.estimatedFrames, total > 0 {
            return AudioProgress(secondsDone: seconds, secondsTotal: Double(total) / rate, fractionCompleted: min(1, Double(position) / Double(total)))
        }
        // Without a background the end is known only when the last clip ends: count clips started.
        return AudioProgress(secondsDone: seconds, secondsTotal: nil, fractionCompleted: Double(nextPending) / Double(max(1, pending.count + 1)))
    }

    package func renderNextWindow() throws -> Bool {
        guard !done else { return false }
        backgroundLane?.advance(to: position + windowFrames)
        clipLane?.advance(to: position + windowFrames)
        var length = windowFrames
        var backgroundFrames = 0
        if let background {
            backgroundFrames = try backgroundBuffer.withUnsafeMutableBufferPointer { try background.read(into: $0.baseAddress!, frames: windowFrames) }
            length = backgroundFrames
        }
        let used = try mixActiveClips(length: length)
        if background == nil {
            length = (nextPending < pending.count || !active.isEmpty) ? windowFrames : used
        } else {
            applyBackground(frames: backgroundFrames)
        }
        try speech.withUnsafeMutableBufferPointer { try output.emit($0.baseAddress!, frames: length) }
        position += length
        if length < windowFrames {
            done = true
            active.removeAll()
            background = nil
            stopLanes()
            try output.finish()
            return false
        }
        return true
    }

    /// Opens clips that start in this window, adds every active clip into `speech`, and drops finished ones.
    /// Returns the number of frames of the window any clip reached.
    private func mixActiveClips(length: Int) throws -> Int {
        speech.withUnsafeMutableBufferPointer { $0.baseAddress!.update(repeating: 0, count: length * channels) }
        if ducking != nil { coverage.withUnsafeMutableBufferPointer { $0.baseAddress!.update(repeating: false, count: length) } }
        // Open clips that start in this window, or a little earlier when their
        // source delivers leading frames (resampler pre-ringing) before the start.
        while nextPending < pending.count, pending[nextPending].startFrame - leadFrames < position + length {
            let item = pending[nextPending]
            let gain = linearGain(decibels: item.clip.gainDB)
            let source = try clipLane?.source(nextPending) ?? Self.openClip(item, open: open, format: output.format)
            let lead = min(source.leadingFrames, leadFrames)
            var start = item.startFrame - lead
            if start < position {
                // Only at the very start of the output: drop what would land before frame 0.
                try discard(position - start, from: source)
                start = position
            }
            active.append(ActiveClip(index: item.index, source: source, gain: source.gainApplied ? 1 : gain, startFrame: start))
            nextPending += 1
        }
        var used = 0
        var finished: [Int] = []
        for (slot, clip) in active.enumerated() {
            let offset = max(0, clip.startFrame - position)
            let wanted = length - offset
            guard wanted > 0 else { continue }
            let got = try scratch.withUnsafeMutableBufferPointer { try clip.source.read(into: $0.baseAddress!, frames: wanted) }
            addScaled(gain: clip.gain, frames: got, at: offset)
            if ducking != nil { coverage.withUnsafeMutableBufferPointer { ($0.baseAddress! + offset).update(repeating: true, count: got) } }
            used = max(used, offset + got)
            if got < wanted { finished.append(slot) }
        }
        for slot in finished.reversed() { active.remove(at: slot) }
        return used
    }

    /// Opens a clip's source, cut and faded when the clip says so. A clip that
    /// starts inside its source or fades in has no resampler pre-ringing in
    /// front of it (the fade or the cut starts it), so it is opened without leading frames.
    private static func openClip(_ item: PendingClip, open: PCMSourceOpener, format: AudioFormat) throws -> any PCMFrameSource {
        let clip = item.clip
        let cutOrFadedIn = clip.fadeIn != nil || (clip.trim?.offset ?? 0) > 0
        let request = SourceRequest(role: "clip \(item.index)", gain: linearGain(decibels: clip.gainDB), allowsLeadingFrames: !cutOrFadedIn)
        let source = try open(clip.source, request)
        guard clip.isShaped else { return source }
        return ShapedFrameSource(source, trim: clip.trim, fadeIn: clip.fadeIn, fadeOut: clip.fadeOut, format: format)
    }

    private func discard(_ frames: Int, from source: any PCMFrameSource) throws {
        var left = frames
        while left > 0 {
            let got = try scratch.withUnsafeMutableBufferPointer { try source.read(into: $0.baseAddress!, frames: min(left, windowFrames)) }
            if got == 0 { return }
            left -= got
        }
    }

    /// `speech[offset…] += gain × scratch` for `frames` frames: one pass over
    /// plain pointers, which the compiler vectorises (the sum and product are
    /// the same float operations in the same order as before).
    private func addScaled(gain: Float, frames: Int, at offset: Int) {
        let count = frames * channels
        speech.withUnsafeMutableBufferPointer { speech in
            scratch.withUnsafeBufferPointer { scratch in
                let destination = speech.baseAddress! + offset * channels
                let source = scratch.baseAddress!
                for i in 0..<count { destination[i] += gain * source[i] }
            }
        }
    }

    /// `speech = background × gain × ducking + speech`, the same order of operations as a plain two-input sum.
    private func applyBackground(frames: Int) {
        let channels = channels
        let backgroundGain = backgroundGain
        speech.withUnsafeMutableBufferPointer { speechBuffer in
            backgroundBuffer.withUnsafeBufferPointer { backgroundBuffer in
                let speech = speechBuffer.baseAddress!
                let background = backgroundBuffer.baseAddress!
                if var envelope = ducking {
                    coverage.withUnsafeBufferPointer { coverage in
                        for frame in 0..<frames {
                            let gain = backgroundGain * envelope.next(clipPlaying: coverage[frame])
                            for c in 0..<channels {
                                let i = frame * channels + c
                                speech[i] = background[i] * gain + speech[i]
                            }
                        }
                    }
                    ducking = envelope
                } else {
                    for i in 0..<(frames * channels) { speech[i] = background[i] * backgroundGain + speech[i] }
                }
            }
        }
    }

    package func summary() -> AudioMixSummary {
        output.summary(clipsPastEnd: pending.count { $0.startFrame >= output.frames })
    }

    package func abort() {
        done = true
        active.removeAll()
        background = nil
        stopLanes()
        output.abort()
    }
}

/// The background gain factor under ``Ducking``: slides linearly between 1
/// and the ducked level, one step per frame, towards the ducked level while a
/// clip plays and back to 1 when none does.
package struct DuckingEnvelope {
    private let floor: Float
    private let step: Float
    private var value: Float = 1

    package init(_ ducking: Ducking, sampleRate: Int) {
        floor = linearGain(decibels: -ducking.depthDB)
        let rampFrames = ducking.rampSeconds * Double(sampleRate)
        step = rampFrames < 1 ? 1 : Float(Double(1 - floor) / rampFrames)
    }

    package mutating func next(clipPlaying: Bool) -> Float {
        if clipPlaying {
            value = max(floor, value - step)
        } else {
            value = min(1, value + step)
        }
        return value
    }
}
