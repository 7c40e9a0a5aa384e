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

/// The largest single allocation FFmpeg's libraries may make (`av_max_alloc`),
/// which is process-wide, so ScaleKit never changes it by itself.
///
/// FFmpeg trusts sizes declared inside files: a 132-byte WAV file whose
/// `LIST` chunk claims 1.1 GB makes the WAV demuxer allocate (and zero)
/// 1.1 GB before it finds nothing there. A service decoding uploads should
/// cap allocations: `FFmpegAllocationLimit.audio.apply()` refuses any
/// allocation over 256 MiB, far above what audio decoding needs (video frames
/// stay far below it too), and such a file then fails with `audioDecoding`.
/// The `scalekit` tool applies it.
public struct FFmpegAllocationLimit: Sendable {
    /// The cap in bytes.
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    /// 256 MiB.
    public static let audio = FFmpegAllocationLimit(bytes: 256 << 20)

    /// Sets FFmpeg's process-wide cap on one allocation.
    public func apply() {
        av_max_alloc(max(0, bytes))
    }
}
