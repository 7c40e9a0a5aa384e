import CFFmpeg
import Foundation
import ScaleKit

/// Demuxes and decodes the best audio stream of one file, frame by frame.
///
/// Any damage is an error, not a shrug: a packet the demuxer flags corrupt
/// (a truncated file), a decoder error, or a file that ends without a single
/// decoded sample throws ``/ScaleKit/ScaleKitError/Code/audioDecoding`` naming the file.
/// A truncated file's whole frames are decoded first, so the error says
/// truthfully how many there were. A WAV file whose header leaves the length
/// open (written to a pipe) ends with a short packet, which is its end, not damage.
final class FFmpegDecoder {
    let label: String
    private let input: FFmpegInputFile
    private let codec: FFmpegCodecContext
    private let streamIndex: Int32
    private let packet: FFmpegPacket
    private let frame: FFmpegFrame
    private var draining = false
    private var finished = false
    /// Frames decoded so far at the file's own rate.
    private(set) var framesDecoded = 0
    /// The stream's length in seconds according to the container, if it says.
    let declaredSeconds: Double?
    /// A WAV header with the "length unknown" size: a short last packet is the end of the data.
    private let lengthIsOpen: Bool
    /// Set when the demuxer flagged a packet damaged: its whole frames are decoded, then the error is thrown.
    private var damaged = false

    init(path: String, role: String) throws {
        label = "\(role) (\(path))"
        packet = try FFmpegPacket()
        frame = try FFmpegFrame()
        input = try FFmpegInputFile(path: path, label: label)
        try checkFFmpeg(avformat_find_stream_info(input.pointer, nil), .audioDecoding, "\(label): cannot read stream information")
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(input.pointer, AVMEDIA_TYPE_AUDIO, -1, -1, &decoder, 0)
        guard index >= 0, let decoder else {
            throw ScaleKitError(.audioDecoding, "\(label) has no decodable audio stream", nativeCode: "AVERROR(\(index))")
        }
        streamIndex = index
        lengthIsOpen = Self.wavLeavesLengthOpen(path: path, format: input.pointer.pointee.iformat)
        let stream = input.pointer.pointee.streams[Int(index)]!
        codec = try FFmpegCodecContext(codec: decoder, code: .audioDecoding)
        try checkFFmpeg(avcodec_parameters_to_context(codec.pointer, stream.pointee.codecpar), .audioDecoding, "\(label): bad codec parameters")
        codec.pointer.pointee.pkt_timebase = stream.pointee.time_base
        try checkFFmpeg(avcodec_open2(codec.pointer, decoder, nil), .audioDecoding, "\(label): cannot open the decoder")
        try Self.checkShape(rate: codec.pointer.pointee.sample_rate, channels: codec.pointer.pointee.ch_layout.nb_channels, label: label)
        if stream.pointee.duration != scalekit_av_nopts_value(), stream.pointee.duration > 0 {
            declaredSeconds = Double(stream.pointee.duration) * av_q2d(stream.pointee.time_base)
        } else if input.pointer.pointee.duration != scalekit_av_nopts_value(), input.pointer.pointee.duration > 0 {
            declaredSeconds = Double(input.pointer.pointee.duration) / Double(AV_TIME_BASE)
        } else {
            declaredSeconds = nil
        }
    }

    /// Refuses a sample rate or channel count no real recording has, before a
    /// resampler sizes its buffers from it: headers lie (a WAV file claiming
    /// 1 GHz made libswresample allocate gigabytes). The limits are the pure-Swift
    /// WAV reader's, so both mixers refuse the same files.
    static func checkShape(rate: Int32, channels: Int32, label: String) throws {
        guard rate > 0, Int(rate) <= WAVHeader.maximumSampleRate else {
            throw ScaleKitError(.audioDecoding, "\(label) declares a sample rate of \(rate) Hz, outside 1…\(WAVHeader.maximumSampleRate)")
        }
        guard channels > 0, Int(channels) <= WAVHeader.maximumChannels else {
            throw ScaleKitError(.audioDecoding, "\(label) declares \(channels) channels, outside 1…\(WAVHeader.maximumChannels)")
        }
    }

    /// Whether `path` is a WAV file whose header says "length unknown" (blocking read of its first bytes).
    private static func wavLeavesLengthOpen(path: String, format: UnsafePointer<AVInputFormat>?) -> Bool {
        guard let name = format?.pointee.name, String(cString: name) == "wav",
            let handle = FileHandle(forReadingAtPath: path)
        else { return false }
        defer { try? handle.close() }
        let prefix = (try? handle.read(upToCount: 64 * 1024)) ?? Data()
        return WAVHeader.declaresUnknownLength([UInt8](prefix))
    }

    private func truncationError() -> ScaleKitError {
        ScaleKitError(.audioDecoding, "\(label) is truncated or corrupt: the data ends or is damaged after \(framesDecoded) decoded frames")
    }

    /// The next decoded frame (valid until the next call), or `nil` at the end.
    func nextFrame() throws -> UnsafeMutablePointer<AVFrame>? {
        while !finished {
            let result = avcodec_receive_frame(codec.pointer, frame.pointer)
            if result >= 0 {
                framesDecoded += Int(frame.pointer.pointee.nb_samples)
                if frame.pointer.pointee.nb_samples > 0 { return frame.pointer }
                continue
            }
            if result == scalekit_averror_eof() {
                finished = true
                break
            }
            if damaged, result == scalekit_averror_eagain() { throw truncationError() }
            guard result == scalekit_averror_eagain(), !draining else {
                try checkFFmpeg(result, .audioDecoding, "\(label): cannot decode")
                finished = true
                break
            }
            try feedOnePacket()
        }
        if framesDecoded == 0 {
            throw ScaleKitError(.audioDecoding, "\(label) contains no decodable audio")
        }
        return nil
    }

    private func feedOnePacket() throws {
        while true {
            let result = av_read_frame(input.pointer, packet.pointer)
            if result == scalekit_averror_eof() {
                draining = true
                try checkFFmpeg(avcodec_send_packet(codec.pointer, nil), .audioDecoding, "\(label): cannot flush the decoder")
                return
            }
            try checkFFmpeg(result, .audioDecoding, "\(label): cannot read (truncated or corrupt?)")
            defer { av_packet_unref(packet.pointer) }
            guard packet.pointer.pointee.stream_index == streamIndex else { continue }
            if packet.pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 {
                if lengthIsOpen {
                    // The short last packet of a file written to a pipe: the end of the data, decoded as usual.
                    packet.pointer.pointee.flags &= ~AV_PKT_FLAG_CORRUPT
                } else {
                    // Decode the packet's whole frames so the error counts them, then stop.
                    damaged = true
                    if avcodec_send_packet(codec.pointer, packet.pointer) < 0 { throw truncationError() }
                    return
                }
            }
            try checkFFmpeg(avcodec_send_packet(codec.pointer, packet.pointer), .audioDecoding, "\(label): cannot decode (corrupt data?)")
            return
        }
    }
}
