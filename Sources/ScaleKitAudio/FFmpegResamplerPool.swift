import CFFmpeg
import Foundation
import ScaleKit

/// The libswresample contexts of one render, kept for the next source with
/// the same input format, rate and layout.
///
/// Setting a context up computes its polyphase filter tables; a mix of
/// hundreds of clips from the same kind of file would build the same tables
/// hundreds of times. A converter takes a context from here (reset to the
/// state of a fresh one, so the output is unchanged bit for bit) and gives it
/// back when it is done. Owned by one render; its read-ahead threads (the
/// background's and the clips') share it, so the idle lists are locked (a
/// pthread mutex, which ThreadSanitizer sees); a context itself is used by one
/// source at a time.
final class FFmpegResamplerPool: @unchecked Sendable {
    struct Key: Hashable {
        var inputChannels: Int32
        var inputMask: UInt64
        var inputFormat: Int32
        var inputRate: Int32
        var outputChannels: Int32
        var outputFormat: Int32
        var outputRate: Int32
    }

    private let lock = NSLock()
    private var idle: [Key: [FFmpegResampler]] = [:]
    private var madeCount = 0
    private var reusedCount = 0
    /// Contexts made and contexts reused, for tests.
    var made: Int { lock.withLock { madeCount } }
    var reused: Int { lock.withLock { reusedCount } }

    init() {}

    /// A context converting `input` to `output`: an idle one, reset, or a new one.
    /// Layouts other than the native-order ones (a custom channel map) are never pooled.
    func resampler(
        input: AVChannelLayout, inputFormat: AVSampleFormat, inputRate: Int32,
        output: AVChannelLayout, outputFormat: AVSampleFormat, outputRate: Int32,
        code: ScaleKitError.Code, label: String
    ) throws -> FFmpegResampler {
        let key = Self.key(input, inputFormat, inputRate, output, outputFormat, outputRate)
        if let key, let resampler = takeIdle(key) {
            try resampler.reset(code: code)
            return resampler
        }
        let made = try FFmpegResampler(
            input: input, inputFormat: inputFormat, inputRate: inputRate, output: output, outputFormat: outputFormat, outputRate: outputRate,
            code: code, label: label)
        made.poolKey = key
        lock.withLock { madeCount += 1 }
        return made
    }

    private func takeIdle(_ key: Key) -> FFmpegResampler? {
        lock.withLock {
            guard var list = idle[key], let resampler = list.popLast() else { return nil }
            idle[key] = list
            reusedCount += 1
            return resampler
        }
    }

    /// Keeps `resampler` for the next caller with its settings (at most a few per setting).
    func giveBack(_ resampler: FFmpegResampler) {
        guard let key = resampler.poolKey else { return }
        lock.withLock {
            var list = idle[key, default: []]
            guard list.count < 4 else { return }
            list.append(resampler)
            idle[key] = list
        }
    }

    private static func key(
        _ input: AVChannelLayout, _ inputFormat: AVSampleFormat, _ inputRate: Int32,
        _ output: AVChannelLayout, _ outputFormat: AVSampleFormat, _ outputRate: Int32
    ) -> Key? {
        guard input.order == AV_CHANNEL_ORDER_NATIVE, output.order == AV_CHANNEL_ORDER_NATIVE else { return nil }
        return Key(
            inputChannels: input.nb_channels, inputMask: input.u.mask, inputFormat: inputFormat.rawValue, inputRate: inputRate,
            outputChannels: output.nb_channels, outputFormat: outputFormat.rawValue, outputRate: outputRate)
    }
}
