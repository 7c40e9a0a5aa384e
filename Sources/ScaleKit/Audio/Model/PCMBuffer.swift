/// Interleaved 32-bit float PCM held in memory.
///
/// Samples are in `-1...1` at full scale; frame `i`, channel `c` is
/// `samples[i * format.channels + c]`.
public struct PCMBuffer: Sendable, Equatable {
    /// Sample rate and channel count.
    public var format: AudioFormat
    /// Interleaved samples; the count is a multiple of `format.channels`.
    public var samples: [Float]

    /// A buffer of interleaved `samples` in `format`.
    public init(format: AudioFormat, samples: [Float]) {
        self.format = format
        self.samples = samples
    }

    /// `frames` frames of silence.
    public init(silenceOf frames: Int, format: AudioFormat) {
        self.init(format: format, samples: [Float](repeating: 0, count: frames * format.channels))
    }

    /// Frames (samples per channel).
    public var frames: Int { format.channels == 0 ? 0 : samples.count / format.channels }

    /// Length in seconds.
    public var duration: Double { Double(frames) / Double(format.sampleRate) }

    /// The sample at `frame`, `channel`.
    public subscript(frame: Int, channel: Int) -> Float {
        samples[frame * format.channels + channel]
    }
}
