/// A container and codec the mixers can write.
public enum AudioFileFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// RIFF WAVE, PCM (16-bit integer by default, or 32-bit float).
    case wav
    /// FLAC, lossless, 16-bit.
    case flac
    /// MPEG-1 Layer III (libmp3lame).
    case mp3
    /// AAC-LC in an MP4 (`.m4a`) container.
    case m4a
    /// AAC-LC as a raw ADTS stream (`.aac`).
    case aac
    /// Opus in Ogg (`.opus`); the encoder runs at 48 kHz.
    case opus

    /// The format a file name's extension stands for (case-insensitive), or `nil`.
    ///
    /// `wav`, `flac`, `mp3`, `m4a`/`mp4`, `aac`, `opus`/`ogg`.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "mp3": self = .mp3
        case "m4a", "mp4": self = .m4a
        case "aac": self = .aac
        case "opus", "ogg": self = .opus
        default: return nil
        }
    }

    /// Whether the codec discards information (bit rate applies).
    public var isLossy: Bool {
        switch self {
        case .wav, .flac: false
        case .mp3, .m4a, .aac, .opus: true
        }
    }

    /// The bit rate used when none is given: 192 kbit/s for AAC and MP3, 128 kbit/s for Opus.
    public var defaultBitRate: Int? {
        switch self {
        case .wav, .flac: nil
        case .mp3, .m4a, .aac: 192_000
        case .opus: 128_000
        }
    }

    public var description: String { rawValue }
}
