/// An input to a join or a mix: a file any backend can decode, or PCM in memory.
public enum AudioSource: Sendable, CustomStringConvertible {
    /// A file on disk. ``PCMAudioMixer`` reads WAV (16-bit integer or 32-bit
    /// float PCM); `FFmpegAudioMixer` reads anything FFmpeg decodes.
    case file(String)
    /// Samples in memory; `name` identifies the source in errors.
    case pcm(PCMBuffer, name: String)

    /// The path or name errors use to point at this source.
    public var name: String {
        switch self {
        case .file(let path): path
        case .pcm(_, let name): name
        }
    }

    public var description: String { name }
}
