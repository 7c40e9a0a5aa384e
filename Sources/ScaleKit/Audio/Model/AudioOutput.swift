/// Where and how a mix is written.
///
/// A mix goes to a file, to an in-memory ``PCMBuffer`` (returned in
/// ``AudioMixSummary/pcm``), or both. File output is atomic: the mixers write
/// a temporary file next to ``AudioOutputFile/path`` and rename it when the
/// encoder has finished, so a failure or cancellation never leaves a
/// truncated file behind.
public struct AudioOutput: Sendable {
    /// The output's sample rate and channel count.
    public var format: AudioFormat
    /// The file to write, or `nil` for in-memory output only.
    public var file: AudioOutputFile?
    /// Whether to return the mixed samples in ``AudioMixSummary/pcm`` (meant for tests: it holds the whole output).
    public var capturesPCM: Bool
    /// What to do with samples beyond full scale.
    public var clipping: ClippingRule
    /// The longest output, in seconds, a render may write (default
    /// ``AudioLimits/defaultMaximumDuration``, 6 h; at most
    /// ``AudioLimits/maximumDurationCeiling``). Clip starts and join gaps are
    /// checked against it before rendering starts, and a render whose inputs
    /// turn out longer stops with ``ScaleKitError/Code/invalidArgument``
    /// (the partial file is removed) instead of filling the disk.
    public var maximumDuration: Double
    /// Whether to measure the output's loudness and true peak into
    /// ``AudioMixSummary/loudness`` (about 1.5 ms of CPU per second of
    /// 48 kHz stereo; implied by ``loudnessTarget``).
    public var measuresLoudness: Bool
    /// Normalise the output to this loudness, or `nil` to leave the mix as summed.
    ///
    /// The render is written to a 32-bit float WAV next to the output while
    /// it is measured, then read back, multiplied by one gain and encoded
    /// into the output (the intermediate file is removed). Memory stays that
    /// of a render; disk needs room for the float intermediate (4 bytes per
    /// sample) besides the output. See ``LoudnessTarget`` and ``AudioMixSummary/normalisation``.
    public var loudnessTarget: LoudnessTarget?

    /// An output in `format` (48 kHz stereo by default), to `file` and/or
    /// memory, with the limiter as clipping rule and a 6-hour cap.
    public init(
        format: AudioFormat = .stereo48k, file: AudioOutputFile? = nil, capturesPCM: Bool = false, clipping: ClippingRule = .limiter(),
        maximumDuration: Double = AudioLimits.defaultMaximumDuration, measuresLoudness: Bool = false, loudnessTarget: LoudnessTarget? = nil
    ) {
        self.format = format
        self.file = file
        self.capturesPCM = capturesPCM
        self.clipping = clipping
        self.maximumDuration = maximumDuration
        self.measuresLoudness = measuresLoudness
        self.loudnessTarget = loudnessTarget
    }

    /// Output to `path` (format from its extension) in `format`.
    public static func file(_ path: String, format: AudioFormat = .stereo48k, bitRate: Int? = nil) -> AudioOutput {
        AudioOutput(format: format, file: AudioOutputFile(path: path, bitRate: bitRate))
    }

    /// In-memory output only, for tests.
    public static func memory(format: AudioFormat = .stereo48k, clipping: ClippingRule = .limiter()) -> AudioOutput {
        AudioOutput(format: format, capturesPCM: true, clipping: clipping)
    }

    package func validate() throws {
        try format.validate()
        guard maximumDuration.isFinite, maximumDuration > 0, maximumDuration <= AudioLimits.maximumDurationCeiling else {
            throw ScaleKitError(
                .invalidArgument,
                "the maximum output duration is \(maximumDuration) s; it must be within 0…\(AudioLimits.maximumDurationCeiling) s")
        }
        guard file != nil || capturesPCM else {
            throw ScaleKitError(.invalidArgument, "the output has neither a file nor PCM capture")
        }
        _ = try file?.resolvedFormat()
        try clipping.validate()
        try loudnessTarget?.validate()
    }
}

/// An output file: path, container/codec, bit rate and PCM sample format.
public struct AudioOutputFile: Sendable {
    /// Where the finished file ends up.
    public var path: String
    /// The format, or `nil` to take it from the path's extension.
    public var format: AudioFileFormat?
    /// Bits per second for lossy codecs, or `nil` for ``AudioFileFormat/defaultBitRate``.
    public var bitRate: Int?
    /// Sample encoding for WAV (FLAC is always 16-bit).
    public var sampleEncoding: PCMSampleEncoding

    /// A file at `path`; the format comes from its extension unless given.
    public init(path: String, format: AudioFileFormat? = nil, bitRate: Int? = nil, sampleEncoding: PCMSampleEncoding = .int16) {
        self.path = path
        self.format = format
        self.bitRate = bitRate
        self.sampleEncoding = sampleEncoding
    }

    /// Parses a bit rate as people write it (`192k`, `1.5m`, `128000`) into bits per second.
    ///
    /// The number is range-checked as a `Double` before it becomes an `Int`,
    /// so `1e300k`, `inf` or `nan` are refused instead of trapping.
    /// - Parameters:
    ///   - text: the bit rate as written.
    ///   - option: how the value was given, for the message (`--bitrate`).
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` unless it is within ``AudioLimits/bitRate``.
    public static func parseBitRate(_ text: String, option: String = "bit rate") throws(ScaleKitError) -> Int {
        let lower = text.lowercased()
        let (digits, scale): (Substring, Double) =
            lower.hasSuffix("k") ? (lower.dropLast(), 1_000) : lower.hasSuffix("m") ? (lower.dropLast(), 1_000_000) : (Substring(lower), 1)
        let range = AudioLimits.bitRate
        guard let value = Double(digits), value.isFinite, (Double(range.lowerBound)...Double(range.upperBound)).contains(value * scale) else {
            throw ScaleKitError(
                .invalidArgument,
                "\(option) \(text.prefix(40).debugDescription) is not a bit rate within \(range.lowerBound)…\(range.upperBound) bit/s (e.g. 192k)")
        }
        return Int((value * scale).rounded())
    }

    /// The explicit format, or the one the extension names.
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` for an unknown or missing extension
    ///   or a bit rate outside ``AudioLimits/bitRate``.
    public func resolvedFormat() throws -> AudioFileFormat {
        if let bitRate, !AudioLimits.bitRate.contains(bitRate) {
            throw ScaleKitError(
                .invalidArgument,
                "bit rate \(bitRate) for \(path) is outside \(AudioLimits.bitRate.lowerBound)…\(AudioLimits.bitRate.upperBound) bit/s")
        }
        if let format { return format }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), name.index(after: dot) != name.endIndex else {
            throw ScaleKitError(.invalidArgument, "output path \(path) has no extension; name a format explicitly")
        }
        let ext = String(name[name.index(after: dot)...])
        guard let format = AudioFileFormat(fileExtension: ext) else {
            throw ScaleKitError(
                .invalidArgument,
                "unknown output extension .\(ext) in \(path) (known: wav, flac, mp3, m4a, aac, opus)")
        }
        return format
    }
}

/// How PCM samples are stored in a WAV file.
public enum PCMSampleEncoding: String, Sendable {
    /// Signed 16-bit integers; floats are scaled by 32 768, rounded to nearest and saturated.
    case int16
    /// IEEE 32-bit floats, written as mixed.
    case float32
}
