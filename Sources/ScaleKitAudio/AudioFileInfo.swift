import CFFmpeg
import Dispatch
import ScaleKit

/// What an audio file holds, read from its container and stream headers
/// without decoding it (``FFmpegAudioMixer/probe(_:)``).
public struct AudioFileInfo: Sendable, Hashable {
    /// FFmpeg's name of the container format (`wav`, `mp3`, `ogg`, `mov,mp4,m4a,3gp,3g2,mj2`, …).
    public var container: String
    /// FFmpeg's name of the audio codec (`pcm_s16le`, `mp3`, `aac`, `opus`, `vorbis`, `flac`, …).
    public var codec: String
    /// Frames per second of the audio stream.
    public var sampleRate: Int
    /// Channels of the audio stream.
    public var channels: Int
    /// The length the container declares, in seconds; `nil` when it does not say
    /// (a stream written to a pipe). Lossy formats declare it approximately.
    public var durationSeconds: Double?
    /// The declared bit rate in bits per second, when known.
    public var bitRate: Int?
}

extension FFmpegAudioMixer {
    /// Reads the container and stream headers of `path` (any format FFmpeg
    /// reads) and says what audio it holds, without decoding it: cheap next
    /// to a decode, but it does read the file's first packets. Blocking reads
    /// run on a queue of their own, off the cooperative pool.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/audioDecoding`` naming the file when it
    ///   cannot be opened, holds no audio stream, or declares a sample rate or
    ///   channel count outside what the mixers accept.
    public static func probe(_ path: String) async throws -> AudioFileInfo {
        try await runBlocking(on: DispatchQueue(label: "scalekit.ffmpeg-probe")) { () throws -> AudioFileInfo in
            try probeNow(path)
        }
    }

    private static func probeNow(_ path: String) throws -> AudioFileInfo {
        let label = "audio file (\(path))"
        let input = try FFmpegInputFile(path: path, label: label)
        try checkFFmpeg(avformat_find_stream_info(input.pointer, nil), .audioDecoding, "\(label): cannot read stream information")
        let index = av_find_best_stream(input.pointer, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        guard index >= 0, let stream = input.pointer.pointee.streams[Int(index)], let parameters = stream.pointee.codecpar else {
            throw ScaleKitError(.audioDecoding, "\(label) has no audio stream", nativeCode: "AVERROR(\(index))")
        }
        let rate = parameters.pointee.sample_rate
        let channels = parameters.pointee.ch_layout.nb_channels
        try FFmpegDecoder.checkShape(rate: rate, channels: channels, label: label)
        var duration: Double?
        if stream.pointee.duration != scalekit_av_nopts_value(), stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * av_q2d(stream.pointee.time_base)
        } else if input.pointer.pointee.duration != scalekit_av_nopts_value(), input.pointer.pointee.duration > 0 {
            duration = Double(input.pointer.pointee.duration) / Double(AV_TIME_BASE)
        }
        let bitRate = parameters.pointee.bit_rate > 0 ? Int(parameters.pointee.bit_rate) : nil
        return AudioFileInfo(
            container: input.pointer.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown",
            codec: String(cString: avcodec_get_name(parameters.pointee.codec_id)),
            sampleRate: Int(rate), channels: Int(channels), durationSeconds: duration, bitRate: bitRate)
    }
}
