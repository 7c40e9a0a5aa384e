import CFFmpeg
import ScaleKit

/// Encodes the render's interleaved float frames into a file through a
/// temporary path that ``finish()`` renames into place; ``abort()`` (or
/// deinit before `finish`) removes it, so a failure never leaves a truncated file.
final class FFmpegEncoder: PCMFrameSink {
    private let destination: TemporaryOutputFile
    private let label: String
    private let output: FFmpegOutputFile
    private let codec: FFmpegCodecContext
    private let stream: UnsafeMutablePointer<AVStream>
    private let converter: FFmpegResampler
    private let converted: FFmpegSampleBuffer
    private let fifo: FFmpegAudioFIFO
    private let frame: FFmpegFrame
    private let packet: FFmpegPacket
    private let frameSize: Int32
    private let padsLastFrame: Bool
    private let inputChannels: Int
    private var samplesSent: Int64 = 0
    private var open = true

    /// Opens the encoder and writes the header to a temporary file next to `file.path`.
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidArgument`` for an unknown extension,
    ///   ``/ScaleKit/ScaleKitError/Code/audioEncoding`` naming the path when the encoder or file cannot be opened.
    init(file: AudioOutputFile, format: AudioFormat) throws {
        let container = try file.resolvedFormat()
        label = "output \(file.path)"
        destination = try TemporaryOutputFile(finalPath: file.path)
        let plan = EncoderPlan(container: container, encoding: file.sampleEncoding)
        output = try FFmpegOutputFile(muxer: plan.muxer, path: destination.temporaryPath, label: label)
        guard let encoder = plan.encoderNames.lazy.compactMap({ avcodec_find_encoder_by_name($0) }).first else {
            throw ScaleKitError(.audioEncoding, "\(label): this FFmpeg has no encoder for \(container) (\(plan.encoderNames.joined(separator: ", ")))")
        }
        codec = try FFmpegCodecContext(codec: encoder, code: .audioEncoding)
        let context = codec.pointer
        context.pointee.sample_fmt = Self.pickSampleFormat(encoder, preferred: plan.sampleFormats)
        context.pointee.sample_rate = Self.pickSampleRate(encoder, wanted: Int32(format.sampleRate))
        context.pointee.ch_layout = defaultChannelLayout(Int32(format.channels))
        context.pointee.time_base = AVRational(num: 1, den: context.pointee.sample_rate)
        if container.isLossy { context.pointee.bit_rate = Int64(file.bitRate ?? container.defaultBitRate ?? 192_000) }
        if output.pointer.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        try checkFFmpeg(avcodec_open2(context, encoder, nil), .audioEncoding, "\(label): cannot open the \(container) encoder")
        stream = try allocated(avformat_new_stream(output.pointer, nil), .audioEncoding, "an output stream")
        try checkFFmpeg(avcodec_parameters_from_context(stream.pointee.codecpar, context), .audioEncoding, "\(label): codec parameters")
        stream.pointee.time_base = context.pointee.time_base
        do {
            try checkFFmpeg(avio_open(&output.pointer.pointee.pb, destination.temporaryPath, AVIO_FLAG_WRITE), .audioEncoding, "\(label): cannot create the file")
            try checkFFmpeg(avformat_write_header(output.pointer, nil), .audioEncoding, "\(label): cannot write the header")
        } catch {
            // deinit does not run for an object whose init failed: remove the temporary file here.
            output.closeFile()
            destination.discard()
            throw error
        }

        let capabilities = encoder.pointee.capabilities
        let variable = capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE != 0 || context.pointee.frame_size <= 0
        frameSize = variable ? 4_096 : context.pointee.frame_size
        padsLastFrame = !variable && capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME == 0
        inputChannels = format.channels
        let layout = defaultChannelLayout(Int32(format.channels))
        converter = try FFmpegResampler(
            input: layout, inputFormat: AV_SAMPLE_FMT_FLT, inputRate: Int32(format.sampleRate),
            output: layout, outputFormat: context.pointee.sample_fmt, outputRate: context.pointee.sample_rate,
            code: .audioEncoding, label: label)
        converted = FFmpegSampleBuffer(format: context.pointee.sample_fmt, channels: Int32(format.channels))
        fifo = try FFmpegAudioFIFO(format: context.pointee.sample_fmt, channels: Int32(format.channels))
        frame = try FFmpegFrame()
        packet = try FFmpegPacket()
    }

    deinit { abort() }

    func write(_ samples: UnsafePointer<Float>, frames: Int) throws {
        var plane: UnsafePointer<UInt8>? = UnsafeRawPointer(samples).assumingMemoryBound(to: UInt8.self)
        try convertIntoFIFO(&plane, frames: Int32(frames))
        try encodeFullFrames(flushing: false)
    }

    func finish() throws {
        guard open else { return }
        do {
            try convertIntoFIFO(nil, frames: 0)
            try encodeFullFrames(flushing: true)
            try sendToEncoder(nil)
            try checkFFmpeg(av_write_trailer(output.pointer), .audioEncoding, "\(label): cannot write the trailer")
            output.closeFile()
            open = false
            try destination.commit()
        } catch {
            abort()
            throw error
        }
    }

    func abort() {
        output.closeFile()
        if open { destination.discard() }
        open = false
    }

    private func convertIntoFIFO(_ input: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, frames: Int32) throws {
        let capacity = converter.maximumOutput(forInput: frames) + 16
        try converted.reserve(capacity)
        var planes = converted.planes
        let produced = try planes.withUnsafeMutableBufferPointer {
            try converter.convert(input, frames: frames, into: $0.baseAddress!, capacity: capacity, code: .audioEncoding)
        }
        guard produced > 0 else { return }
        let written = planes.withUnsafeMutableBufferPointer { planes in
            planes.baseAddress!.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: planes.count) {
                av_audio_fifo_write(fifo.pointer, $0, produced)
            }
        }
        try checkFFmpeg(written, .audioEncoding, "\(label): buffering samples")
    }

    private func encodeFullFrames(flushing: Bool) throws {
        while fifo.count >= frameSize || (flushing && fifo.count > 0) {
            let count = min(fifo.count, frameSize)
            let f = frame.pointer
            av_frame_unref(f)
            f.pointee.nb_samples = padsLastFrame ? frameSize : count
            f.pointee.format = codec.pointer.pointee.sample_fmt.rawValue
            f.pointee.sample_rate = codec.pointer.pointee.sample_rate
            try checkFFmpeg(av_channel_layout_copy(&f.pointee.ch_layout, &codec.pointer.pointee.ch_layout), .audioEncoding, "\(label): layout")
            try checkFFmpeg(av_frame_get_buffer(f, 0), .audioEncoding, "\(label): frame buffer")
            if padsLastFrame, count < frameSize {
                try checkFFmpeg(
                    av_samples_set_silence(f.pointee.extended_data, 0, frameSize, Int32(inputChannels), codec.pointer.pointee.sample_fmt),
                    .audioEncoding, "\(label): padding")
            }
            let read = f.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: inputChannels) {
                av_audio_fifo_read(fifo.pointer, $0, count)
            }
            try checkFFmpeg(read, .audioEncoding, "\(label): reading buffered samples")
            f.pointee.pts = samplesSent
            samplesSent += Int64(f.pointee.nb_samples)
            try sendToEncoder(f)
        }
    }

    private func sendToEncoder(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        try checkFFmpeg(avcodec_send_frame(codec.pointer, frame), .audioEncoding, "\(label): encoding failed")
        while true {
            let result = avcodec_receive_packet(codec.pointer, packet.pointer)
            if result == scalekit_averror_eagain() || result == scalekit_averror_eof() { return }
            try checkFFmpeg(result, .audioEncoding, "\(label): encoding failed")
            av_packet_rescale_ts(packet.pointer, codec.pointer.pointee.time_base, stream.pointee.time_base)
            packet.pointer.pointee.stream_index = stream.pointee.index
            let written = av_interleaved_write_frame(output.pointer, packet.pointer)
            av_packet_unref(packet.pointer)
            try checkFFmpeg(written, .audioEncoding, "\(label): cannot write (disk full?)")
        }
    }

    private static func pickSampleFormat(_ encoder: UnsafePointer<AVCodec>, preferred: [AVSampleFormat]) -> AVSampleFormat {
        guard var supported = encoder.pointee.sample_fmts else { return preferred[0] }
        var available: [AVSampleFormat] = []
        while supported.pointee != AV_SAMPLE_FMT_NONE {
            available.append(supported.pointee)
            supported += 1
        }
        return preferred.first { available.contains($0) } ?? available[0]
    }

    private static func pickSampleRate(_ encoder: UnsafePointer<AVCodec>, wanted: Int32) -> Int32 {
        guard var supported = encoder.pointee.supported_samplerates else { return wanted }
        var rates: [Int32] = []
        while supported.pointee != 0 {
            rates.append(supported.pointee)
            supported += 1
        }
        if rates.contains(wanted) { return wanted }
        // Opus runs at 48 kHz: resample up rather than down.
        return rates.filter { $0 >= wanted }.min() ?? rates.max() ?? wanted
    }
}

/// Which muxer, encoder and sample formats each output format uses.
struct EncoderPlan {
    var muxer: String
    var encoderNames: [String]
    var sampleFormats: [AVSampleFormat]

    init(container: AudioFileFormat, encoding: PCMSampleEncoding) {
        switch container {
        case .wav:
            muxer = "wav"
            encoderNames = encoding == .int16 ? ["pcm_s16le"] : ["pcm_f32le"]
            sampleFormats = encoding == .int16 ? [AV_SAMPLE_FMT_S16] : [AV_SAMPLE_FMT_FLT]
        case .flac:
            muxer = "flac"
            encoderNames = ["flac"]
            sampleFormats = [AV_SAMPLE_FMT_S16]
        case .mp3:
            muxer = "mp3"
            encoderNames = ["libmp3lame", "libshine"]
            sampleFormats = [AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S16]
        case .m4a:
            muxer = "ipod"
            encoderNames = ["aac"]
            sampleFormats = [AV_SAMPLE_FMT_FLTP]
        case .aac:
            muxer = "adts"
            encoderNames = ["aac"]
            sampleFormats = [AV_SAMPLE_FMT_FLTP]
        case .opus:
            muxer = "opus"
            encoderNames = ["libopus"]
            sampleFormats = [AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_S16]
        }
    }
}
