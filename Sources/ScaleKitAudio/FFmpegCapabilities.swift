import CFFmpeg
public import ScaleKit

/// What this process's FFmpeg build can do, for `scalekit doctor --audit`
/// and for services that want to refuse an output format up front.
public enum FFmpegCapabilities {
    /// The name of the encoder that would write `format`, or `nil` when this
    /// FFmpeg build has none (Debian's has all of them; minimal builds often
    /// lack libmp3lame or libopus). Cheap: a look-up in FFmpeg's codec table.
    public static func encoder(for format: AudioFileFormat) -> String? {
        EncoderPlan(container: format, encoding: .int16).encoderNames.first { avcodec_find_encoder_by_name($0) != nil }
    }
}
