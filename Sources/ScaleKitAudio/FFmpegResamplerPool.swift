import CFFmpeg
import ScaleKit

/// The libswresample contexts of one render, kept for the next source with
/// the same input format, rate and layout.
///
/// Setting a context up computes its polyphase filter tables; a mix of
/// hundreds of clips from the same kind of file would build the same tables
/// hundreds of times. A converter takes a context from here (reset to the
/// state of a fresh one, so the output is unchanged bit for bit) and gives it
/// back when it is done. Owned by one render job, used on its queue only.
final class FFmpegResamplerPool {
    struct Key: Hashable {
        var inputChannels: Int32
        var inputMask: UInt64
        var inputFormat: Int32
        var inputRate: Int32
        var outputChannels: Int32
        var outputFormat: Int32
        var outputRate: Int32
    }

    private var idle: [Key: [FFmpegResampler]] = [:]
    /// Contexts made and contexts reused, for tests.
    private(set) var made = 0
    private(set) var reused = 0

    init() {}

    /// A context converting `input` to `output`: an idle one, reset, or a new one.
    /// Layouts other than the native-order ones (a custom channel map) are never pooled.
    func resampler(
        input: AVChannelLayout, inputFormat: AVSampleFormat, inputRate: Int32,
        output: AVChannelLayout, outputFormat: AVSampleFormat, outputRate: Int32,
        code: ScaleKitError.Code, label: String
    ) throws -> FFmpegResampler {
        let key = Self.key(input, inputFormat, inputRate, output, outputFormat, outputRate)
        if let key, var list = idle[key], let resampler = list.popLast() {
            idle[key] = list
            try resampler.reset(code: code)
            reused += 1
            return resampler
        }
        let made = try FFmpegResampler(
            input: input, inputFormat: inputFormat, inputRate: inputRate, output: output, outputFormat: outputFormat, outputRate: outputRate,
            code: code, label: label)
        made.poolKey = key
        self.made += 1
        return made
    }

    /// Keeps `resampler` for the next caller with its settings (at most a few per setting).
    func giveBack(_ resampler: FFmpegResampler) {
        guard let key = resampler.poolKey else { return }
        var list = idle[key, default: []]
        guard list.count < 4 else { return }
        list.append(resampler)
        idle[key] = list
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
