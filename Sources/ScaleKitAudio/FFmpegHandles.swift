import CFFmpeg
import ScaleKit

// One final class per FFmpeg object: each frees its object in deinit. None is
// Sendable; a render job owns them and uses them on its session's queue only.

/// Owns an `AVPacket`.
final class FFmpegPacket {
    let pointer: UnsafeMutablePointer<AVPacket>
    init() throws { pointer = try allocated(av_packet_alloc(), .audioDecoding, "a packet") }
    deinit {
        var pointer: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&pointer)
    }
}

/// Owns an `AVFrame`.
final class FFmpegFrame {
    let pointer: UnsafeMutablePointer<AVFrame>
    init() throws { pointer = try allocated(av_frame_alloc(), .audioDecoding, "a frame") }
    deinit {
        var pointer: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&pointer)
    }
}

/// Owns an `AVCodecContext` (decoder or encoder).
final class FFmpegCodecContext {
    let pointer: UnsafeMutablePointer<AVCodecContext>
    init(codec: UnsafePointer<AVCodec>, code: ScaleKitError.Code) throws {
        pointer = try allocated(avcodec_alloc_context3(codec), code, "a codec context")
    }
    deinit {
        var pointer: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&pointer)
    }
}

/// Owns an input `AVFormatContext` opened on a file.
final class FFmpegInputFile {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    /// Opens `path`. - Throws: ``/ScaleKit/ScaleKitError/Code/audioDecoding`` with `label` (which names the file).
    ///
    /// A `.wav` file is first opened with the WAV demuxer directly: probing
    /// every demuxer costs milliseconds per file, which dominates joins of
    /// thousands of short clips. If that fails (a mislabelled file), the
    /// normal probe decides.
    ///
    /// The WAV demuxer also asks for its 16-bit PCM stream to be probed, in
    /// case the samples are really S/PDIF, DTS or MP3 frames: libavformat then
    /// runs every demuxer's probe over the stream's data at each power-of-two
    /// size up to `probesize` (5 MB), which for a short clip is the whole
    /// file, over and over: 40 % of a 200-clip mix's instructions went there.
    /// A `probesize` of one packet keeps that check to the first packet (the
    /// decision is taken only on a confident match, as before).
    init(path: String, label: String) throws {
        var context: UnsafeMutablePointer<AVFormatContext>?
        if path.lowercased().hasSuffix(".wav"), let wav = av_find_input_format("wav") {
            var options: OpaquePointer?
            av_dict_set(&options, "probesize", "4096", 0)
            let opened = avformat_open_input(&context, path, wav, &options)
            av_dict_free(&options)
            if opened >= 0, let context {
                pointer = context
                return
            }
        }
        context = nil
        try checkFFmpeg(avformat_open_input(&context, path, nil, nil), .audioDecoding, "\(label): cannot open")
        pointer = context!
    }
    deinit {
        var pointer: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&pointer)
    }
}

/// Owns an output `AVFormatContext` and its `AVIOContext`.
final class FFmpegOutputFile {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    init(muxer: String, path: String, label: String) throws {
        var context: UnsafeMutablePointer<AVFormatContext>?
        try checkFFmpeg(avformat_alloc_output_context2(&context, nil, muxer, path), .audioEncoding, "\(label): no \(muxer) muxer")
        pointer = context!
    }
    /// Closes the file, if open (flushing it).
    func closeFile() {
        if pointer.pointee.pb != nil { avio_closep(&pointer.pointee.pb) }
    }
    deinit {
        closeFile()
        avformat_free_context(pointer)
    }
}

/// Owns a `SwrContext`: sample rate, sample format and channel layout conversion.
final class FFmpegResampler {
    private var context: OpaquePointer?
    let outputChannels: Int32
    let outputFormat: AVSampleFormat
    private let label: String
    /// The settings this context was made with, when an ``FFmpegResamplerPool`` may keep it.
    var poolKey: FFmpegResamplerPool.Key?

    init(
        input: AVChannelLayout, inputFormat: AVSampleFormat, inputRate: Int32,
        output: AVChannelLayout, outputFormat: AVSampleFormat, outputRate: Int32,
        code: ScaleKitError.Code, label: String
    ) throws {
        var input = input
        var output = output
        self.label = label
        self.outputFormat = outputFormat
        outputChannels = output.nb_channels
        try checkFFmpeg(
            swr_alloc_set_opts2(&context, &output, outputFormat, outputRate, &input, inputFormat, inputRate, 0, nil),
            code, "\(label): cannot set up the resampler")
        try checkFFmpeg(swr_init(context), code, "\(label): cannot start the resampler (\(inputRate) Hz → \(outputRate) Hz)")
    }

    deinit { swr_free(&context) }

    /// Returns the context to the state of a fresh one with the same settings:
    /// `swr_init` on a configured context drops the buffered history and the
    /// filter position but keeps the filter tables when the rates and options
    /// are unchanged, which is what makes reuse cheaper than a new context.
    func reset(code: ScaleKitError.Code) throws {
        try checkFFmpeg(swr_init(context), code, "\(label): cannot restart the resampler")
    }

    /// An upper bound for the frames the next `convert` of `inputFrames` (or a flush, 0) can return.
    func maximumOutput(forInput inputFrames: Int32) -> Int32 {
        max(0, swr_get_out_samples(context, inputFrames))
    }

    /// Converts `inputFrames` frames (`input` nil flushes the delay line) into `output` planes with room for `capacity` frames.
    func convert(
        _ input: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, frames inputFrames: Int32,
        into output: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, capacity: Int32, code: ScaleKitError.Code
    ) throws -> Int32 {
        try checkFFmpeg(swr_convert(context, output, capacity, input, inputFrames), code, "\(label): resampling failed")
    }
}

/// Owns an `AVAudioFifo` (the encoder's fixed-size frames are cut from it).
final class FFmpegAudioFIFO {
    let pointer: OpaquePointer
    init(format: AVSampleFormat, channels: Int32) throws {
        pointer = try allocated(av_audio_fifo_alloc(format, channels, 4096), .audioEncoding, "an audio FIFO")
    }
    var count: Int32 { av_audio_fifo_size(pointer) }
    deinit { av_audio_fifo_free(pointer) }
}

/// Owns planes allocated with `av_samples_alloc` (interleaved formats use one plane).
final class FFmpegSampleBuffer {
    private(set) var planes: [UnsafeMutablePointer<UInt8>?]
    private(set) var capacity: Int32 = 0
    private let format: AVSampleFormat
    private let channels: Int32

    init(format: AVSampleFormat, channels: Int32) {
        self.format = format
        self.channels = channels
        planes = [UnsafeMutablePointer<UInt8>?](repeating: nil, count: Int(max(channels, 1)))
    }

    /// Makes room for at least `frames` frames.
    func reserve(_ frames: Int32) throws {
        guard frames > capacity else { return }
        release()
        try checkFFmpeg(
            planes.withUnsafeMutableBufferPointer { av_samples_alloc($0.baseAddress, nil, channels, frames, format, 0) },
            .audioEncoding, "allocating sample buffers")
        capacity = frames
    }

    private func release() {
        if planes[0] != nil { av_freep(&planes[0]) }
        capacity = 0
    }

    deinit { release() }
}
