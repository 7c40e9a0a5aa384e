import CFFmpeg

/// FFmpeg's own diagnostics (printed to stderr by libav*), which are
/// process-wide: ScaleKit never changes them by itself; applications and
/// tools choose.
public enum FFmpegLogLevel: Int32, Sendable {
    /// Nothing.
    case quiet = -8
    /// Only errors (what the `scalekit` tool uses).
    case error = 16
    /// Errors and warnings (FFmpeg's default is `info`, chattier).
    case warning = 24
    /// FFmpeg's default.
    case info = 32

    /// Sets FFmpeg's process-wide log level.
    public func apply() {
        av_log_set_level(rawValue)
    }
}
