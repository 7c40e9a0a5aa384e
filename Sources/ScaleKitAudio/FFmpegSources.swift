import CFFmpeg
import ScaleKit

/// Decoded, resampled frames waiting to be read: interleaved float in the output format.
struct PendingFrames {
    private var storage: [Float] = []
    private var head = 0
    let channels: Int

    init(channels: Int) { self.channels = channels }

    var frames: Int { (storage.count - head) / channels }

    /// Appends `frames` frames from `source` (with `sourceChannels`), mapping channels to the output's.
    mutating func append(_ source: UnsafePointer<Float>, frames: Int, sourceChannels: Int) {
        guard frames > 0 else { return }
        if head > 0, head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
        let start = storage.count
        storage.append(contentsOf: repeatElement(0, count: frames * channels))
        storage.withUnsafeMutableBufferPointer {
            mapChannels(source, channels: sourceChannels, to: $0.baseAddress! + start, channels: channels, frames: frames)
        }
    }

    /// Moves up to `frames` frames into `buffer`.
    mutating func pop(into buffer: UnsafeMutablePointer<Float>, frames wanted: Int) -> Int {
        let count = min(wanted, frames)
        guard count > 0 else { return 0 }
        storage.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + head, count: count * channels) }
        head += count * channels
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        return count
    }
}

/// Converts decoded audio to interleaved float at the output rate, keeping
/// mono and stereo as they are (the caller maps channels so mono reaches both
/// sides at unity) and letting libswresample downmix anything wider.
///
/// Two stages, in the order ffmpeg's own filters use (`volume` then
/// `aresample`): conversion to float at the source rate, the gain, then
/// resampling. With `preRoll` the resampler first reads a short run of
/// silence, so the filter's pre-ringing before the first sample is kept (as
/// when the clip is resampled inside a continuous track); ``leadingFrames``
/// says how many output frames that adds.
final class FloatConverter {
    private let toFloat: FFmpegResampler
    private let toRate: FFmpegResampler?
    private let pool: FFmpegResamplerPool?
    private let gain: Float
    let channels: Int
    private(set) var leadingFrames = 0
    private var floats: [Float] = []
    private var resampled: [Float] = []

    init(
        layout: AVChannelLayout, format: AVSampleFormat, rate: Int32, output: AudioFormat, gain: Float = 1,
        preRoll: Bool = false, pool: FFmpegResamplerPool? = nil, label: String
    ) throws {
        let sourceChannels = layout.nb_channels
        let input = sourceChannels <= 2 || layout.order == AV_CHANNEL_ORDER_UNSPEC ? defaultChannelLayout(sourceChannels) : layout
        let outputChannels = sourceChannels <= 2 ? sourceChannels : Int32(output.channels)
        let floatLayout = defaultChannelLayout(outputChannels)
        func make(_ input: AVChannelLayout, _ format: AVSampleFormat, _ outputRate: Int32) throws -> FFmpegResampler {
            if let pool {
                return try pool.resampler(
                    input: input, inputFormat: format, inputRate: rate, output: floatLayout, outputFormat: AV_SAMPLE_FMT_FLT,
                    outputRate: outputRate, code: .audioDecoding, label: label)
            }
            return try FFmpegResampler(
                input: input, inputFormat: format, inputRate: rate, output: floatLayout, outputFormat: AV_SAMPLE_FMT_FLT,
                outputRate: outputRate, code: .audioDecoding, label: label)
        }
        self.pool = pool
        toFloat = try make(input, format, rate)
        if Int(rate) == output.sampleRate {
            toRate = nil
        } else {
            do {
                toRate = try make(floatLayout, AV_SAMPLE_FMT_FLT, Int32(output.sampleRate))
            } catch {
                pool?.giveBack(toFloat)
                throw error
            }
        }
        channels = Int(outputChannels)
        self.gain = gain
        if preRoll, toRate != nil, let silence = Self.preRollFrames(from: Int(rate), to: output.sampleRate) {
            var lead = PendingFrames(channels: channels)
            floats = [Float](repeating: 0, count: silence.input * channels)
            try resample(frames: Int32(silence.input), into: &lead)
            // What the silence produces (now or, delayed by the filter, with the
            // clip's first frames) is the pre-ringing region before the start.
            leadingFrames = silence.output
            pendingLead = lead
        }
    }

    deinit {
        pool?.giveBack(toFloat)
        if let toRate { pool?.giveBack(toRate) }
    }

    /// Output of the pre-roll, handed to the first `convert`.
    private var pendingLead: PendingFrames?

    /// The shortest run of input silence that (a) covers the resampler's filter
    /// (32 taps, wider when downsampling) and (b) maps to a whole number of
    /// output frames, so the clip's first sample stays on its frame; `nil` when
    /// that would exceed ``maximumLeadingSeconds``.
    static func preRollFrames(from input: Int, to output: Int) -> (input: Int, output: Int)? {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let step = input / gcd(input, output)
        let needed = Int((32.0 * max(1, Double(input) / Double(output))).rounded(.up))
        let frames = ((needed + step - 1) / step) * step
        let produced = frames * output / input
        guard Double(produced) <= maximumLeadingSeconds * Double(output) else { return nil }
        return (frames, produced)
    }

    /// Converts `frames` frames from `planes` (nil flushes) and appends them to `pending`.
    func convert(_ planes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, frames: Int32, into pending: inout PendingFrames) throws {
        if var lead = pendingLead {
            var buffer = [Float](repeating: 0, count: lead.frames * channels)
            let count = buffer.withUnsafeMutableBufferPointer { lead.pop(into: $0.baseAddress!, frames: lead.frames) }
            buffer.withUnsafeBufferPointer { pending.append($0.baseAddress!, frames: count, sourceChannels: channels) }
            pendingLead = nil
        }
        let capacity = toFloat.maximumOutput(forInput: frames) + 16
        if floats.count < Int(capacity) * channels { floats = [Float](repeating: 0, count: Int(capacity) * channels) }
        let converted = try floats.withUnsafeMutableBufferPointer { floats in
            var output: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(floats.baseAddress!).assumingMemoryBound(to: UInt8.self)
            return try toFloat.convert(planes, frames: frames, into: &output, capacity: capacity, code: .audioDecoding)
        }
        if gain != 1 {
            let gain = gain
            floats.withUnsafeMutableBufferPointer { floats in
                for i in 0..<(Int(converted) * channels) { floats[i] *= gain }
            }
        }
        if toRate == nil {
            floats.withUnsafeBufferPointer { pending.append($0.baseAddress!, frames: Int(converted), sourceChannels: channels) }
            return
        }
        if converted > 0 { try resample(frames: converted, into: &pending) }
        if planes == nil { try resample(frames: nil, into: &pending) }
    }

    /// Resamples the first `frames` frames of `floats` (nil flushes) into `pending`.
    private func resample(frames: Int32?, into pending: inout PendingFrames) throws {
        guard let toRate else { return }
        let capacity = toRate.maximumOutput(forInput: frames ?? 0) + 16
        if resampled.count < Int(capacity) * channels { resampled = [Float](repeating: 0, count: Int(capacity) * channels) }
        let produced = try floats.withUnsafeBufferPointer { floats in
            try resampled.withUnsafeMutableBufferPointer { resampled in
                var output: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(resampled.baseAddress!).assumingMemoryBound(to: UInt8.self)
                if let frames {
                    var input: UnsafePointer<UInt8>? = UnsafeRawPointer(floats.baseAddress!).assumingMemoryBound(to: UInt8.self)
                    return try toRate.convert(&input, frames: frames, into: &output, capacity: capacity, code: .audioDecoding)
                }
                return try toRate.convert(nil, frames: 0, into: &output, capacity: capacity, code: .audioDecoding)
            }
        }
        resampled.withUnsafeBufferPointer { pending.append($0.baseAddress!, frames: Int(produced), sourceChannels: channels) }
    }
}

/// A file decoded by FFmpeg, streamed to the render in the output format.
final class FFmpegFileSource: PCMFrameSource {
    private let decoder: FFmpegDecoder
    private let output: AudioFormat
    private let request: SourceRequest
    private var converter: FloatConverter?
    private var inputShape: (format: Int32, rate: Int32, channels: Int32)?
    private var pending: PendingFrames
    private var ended = false
    let estimatedFrames: Int?
    let gainApplied = true
    private(set) var leadingFrames = 0

    /// Opens the file and decodes its first frame, so a broken file fails here, naming it.
    private let pool: FFmpegResamplerPool?

    init(path: String, request: SourceRequest, output: AudioFormat, pool: FFmpegResamplerPool? = nil) throws {
        decoder = try FFmpegDecoder(path: path, role: request.role)
        self.output = output
        self.request = request
        self.pool = pool
        pending = PendingFrames(channels: output.channels)
        estimatedFrames = decoder.declaredSeconds.map { Int(($0 * Double(output.sampleRate)).rounded()) }
        try decodeMore()
        leadingFrames = converter?.leadingFrames ?? 0
    }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        while pending.frames < frames, !ended { try decodeMore() }
        return pending.pop(into: buffer, frames: frames)
    }

    private func decodeMore() throws {
        if let frame = try decoder.nextFrame() {
            let converter = try converter(for: frame)
            let planes = UnsafeMutableRawPointer(frame.pointee.extended_data).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
            try converter.convert(planes, frames: frame.pointee.nb_samples, into: &pending)
        } else {
            try converter?.convert(nil, frames: 0, into: &pending)
            ended = true
            // Flushed: its contexts can serve the next source now.
            converter = nil
        }
    }

    private func converter(for frame: UnsafeMutablePointer<AVFrame>) throws -> FloatConverter {
        let shape = (frame.pointee.format, frame.pointee.sample_rate, frame.pointee.ch_layout.nb_channels)
        if let converter, let inputShape, inputShape == shape { return converter }
        try FFmpegDecoder.checkShape(rate: shape.1, channels: shape.2, label: decoder.label)
        let first = converter == nil
        if let converter {
            // The stream changed shape mid-way (rare: chained Ogg, some MP3s): drain the old converter first.
            try converter.convert(nil, frames: 0, into: &pending)
        }
        let made = try FloatConverter(
            layout: frame.pointee.ch_layout, format: AVSampleFormat(rawValue: frame.pointee.format), rate: frame.pointee.sample_rate,
            output: output, gain: request.gain, preRoll: first && request.allowsLeadingFrames, pool: pool, label: decoder.label)
        converter = made
        inputShape = shape
        return made
    }
}

/// PCM from memory: copied as is at the output rate, resampled by libswresample otherwise.
final class FFmpegMemorySource: PCMFrameSource {
    private let buffer: PCMBuffer
    private let converter: FloatConverter?
    private var pending: PendingFrames
    private var position = 0
    private var ended = false
    let estimatedFrames: Int?
    let gainApplied: Bool
    let leadingFrames: Int

    init(buffer: PCMBuffer, name: String, request: SourceRequest, output: AudioFormat, pool: FFmpegResamplerPool? = nil) throws {
        guard (1...2).contains(buffer.format.channels), buffer.format.sampleRate > 0 else {
            throw ScaleKitError(.audioDecoding, "\(request.role) (\(name)) has \(buffer.format) PCM; 1 or 2 channels are supported")
        }
        self.buffer = buffer
        pending = PendingFrames(channels: output.channels)
        estimatedFrames = Int((Double(buffer.frames) * Double(output.sampleRate) / Double(buffer.format.sampleRate)).rounded())
        if buffer.format.sampleRate == output.sampleRate {
            converter = nil
        } else {
            converter = try FloatConverter(
                layout: defaultChannelLayout(Int32(buffer.format.channels)), format: AV_SAMPLE_FMT_FLT,
                rate: Int32(buffer.format.sampleRate), output: output, gain: request.gain, preRoll: request.allowsLeadingFrames,
                pool: pool, label: "\(request.role) (\(name))")
        }
        gainApplied = converter != nil
        leadingFrames = converter?.leadingFrames ?? 0
    }

    func read(into destination: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        let channels = buffer.format.channels
        while pending.frames < frames, !ended {
            let count = min(8_192, buffer.frames - position)
            if count > 0 {
                try buffer.samples.withUnsafeBufferPointer { all in
                    let start = all.baseAddress! + position * channels
                    if let converter {
                        var plane: UnsafePointer<UInt8>? = UnsafeRawPointer(start).assumingMemoryBound(to: UInt8.self)
                        try converter.convert(&plane, frames: Int32(count), into: &pending)
                    } else {
                        pending.append(start, frames: count, sourceChannels: channels)
                    }
                }
                position += count
            } else {
                try converter?.convert(nil, frames: 0, into: &pending)
                ended = true
            }
        }
        return pending.pop(into: destination, frames: frames)
    }
}

/// Opens any ``/ScaleKit/AudioSource`` for the FFmpeg mixer.
func openFFmpegSource(
    _ source: AudioSource, request: SourceRequest, output: AudioFormat, pool: FFmpegResamplerPool? = nil
) throws -> any PCMFrameSource {
    switch source {
    case .file(let path): try FFmpegFileSource(path: path, request: request, output: output, pool: pool)
    case .pcm(let buffer, let name): try FFmpegMemorySource(buffer: buffer, name: name, request: request, output: output, pool: pool)
    }
}
