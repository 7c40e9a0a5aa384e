import CFFmpeg
import ScaleKit
public import Logging
import Synchronization

/// FFmpeg's own diagnostics, which are process-wide.
///
/// By default FFmpeg prints to stderr at `info` (an AAC encode alone prints
/// `[aac @ 0x…] Qavg: …`). ScaleKit's FFmpeg mixer routes them to swift-log
/// instead, warnings and errors only, under the label `scalekit.ffmpeg`,
/// the first time a mixer is made, unless the application chose first with
/// ``route(to:level:)`` or ``FFmpegLogLevel/apply()``.
public enum FFmpegLogging {
    private struct Route: Sendable {
        var logger: Logger
        var level: Int32
    }

    /// `nil` until someone chose; a chosen route survives later defaults.
    private static let route = SanitizerVisibleMutex<Route?>(nil)
    private static let chosen = Atomic<Bool>(false)

    /// Sends FFmpeg's messages at `level` or more severe to `logger`
    /// (process-wide; replaces FFmpeg's stderr printing).
    public static func route(to logger: Logger, level: FFmpegLogLevel = .warning) {
        chosen.store(true, ordering: .releasing)
        install(Route(logger: logger, level: level.rawValue))
    }

    /// The default: warnings and errors to `Logger(label: "scalekit.ffmpeg")`,
    /// unless the application already chose.
    static func installDefault() {
        guard !chosen.load(ordering: .acquiring) else { return }
        let installed = route.withLock { $0 != nil }
        if !installed { install(Route(logger: Logger(label: "scalekit.ffmpeg"), level: FFmpegLogLevel.warning.rawValue)) }
    }

    private static func install(_ new: Route) {
        route.withLock { $0 = new }
        av_log_set_level(new.level)
        av_log_set_callback { context, level, format, arguments in
            guard let format, let arguments, level <= av_log_get_level() else { return }
            var line = [CChar](repeating: 0, count: 1024)
            var printPrefix: Int32 = 1
            _ = av_log_format_line2(context, level, format, arguments, &line, Int32(line.count), &printPrefix)
            let bytes = line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty, let route = FFmpegLogging.route.withLock({ $0 }) else { return }
            route.logger.log(level: FFmpegLogging.swiftLogLevel(level), "\(text)")
        }
    }

    static func markChosen() { chosen.store(true, ordering: .releasing) }

    static func swiftLogLevel(_ level: Int32) -> Logger.Level {
        switch level {
        case ...16: return .error  // AV_LOG_PANIC, FATAL, ERROR
        case ...24: return .warning
        case ...32: return .info
        default: return .debug
        }
    }
}

/// FFmpeg's own diagnostic level (process-wide); see ``FFmpegLogging``.
public enum FFmpegLogLevel: Int32, Sendable {
    /// Nothing.
    case quiet = -8
    /// Only errors (what the `scalekit` tool uses).
    case error = 16
    /// Errors and warnings (FFmpeg's default is `info`, chattier).
    case warning = 24
    /// FFmpeg's default.
    case info = 32

    /// Sets FFmpeg's process-wide log level (messages still go where they
    /// went: stderr, or the logger of ``FFmpegLogging/route(to:level:)``),
    /// and keeps the mixers from installing their default.
    public func apply() {
        FFmpegLogging.markChosen()
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

    /// A cap of `bytes` per allocation; call ``apply()`` to put it in force.
    public init(bytes: Int) { self.bytes = bytes }

    /// 256 MiB.
    public static let audio = FFmpegAllocationLimit(bytes: 256 << 20)

    /// Sets FFmpeg's process-wide cap on one allocation.
    public func apply() {
        av_max_alloc(max(0, bytes))
    }
}
