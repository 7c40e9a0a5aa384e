import CFFmpeg
import ScaleKit

/// FFmpeg's text for an error code (what `av_err2str` would give).
func ffmpegErrorText(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    return buffer.withUnsafeMutableBufferPointer { buffer in
        _ = av_make_error_string(buffer.baseAddress, buffer.count, code)
        return String(cString: buffer.baseAddress!)
    }
}

/// The one place an FFmpeg return code becomes an error: negative codes throw
/// a ``/ScaleKit/ScaleKitError`` with `code`, the context (which names the file or
/// segment) and FFmpeg's text; other values are returned.
@discardableResult
func checkFFmpeg(_ result: Int32, _ code: ScaleKitError.Code, _ context: @autoclosure () -> String) throws -> Int32 {
    guard result < 0 else { return result }
    throw ScaleKitError(code, "\(context()): \(ffmpegErrorText(result))", nativeCode: "AVERROR(\(result))")
}

/// Throws when an allocation returned `nil`.
func allocated<T>(_ pointer: T?, _ code: ScaleKitError.Code, _ what: @autoclosure () -> String) throws -> T {
    guard let pointer else { throw ScaleKitError(code, "out of memory allocating \(what())") }
    return pointer
}

/// The default (native order) layout for `channels` channels.
func defaultChannelLayout(_ channels: Int32) -> AVChannelLayout {
    var layout = AVChannelLayout()
    av_channel_layout_default(&layout, channels)
    return layout
}
