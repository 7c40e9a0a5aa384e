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
final class FloatConverter {
    private let resampler: FFmpegResampler
    let channels: Int
    private var scratch: [Float] = []

    init(layout: AVChannelLayout, format: AVSampleFormat, rate: Int32, output: AudioFormat, label: String) throws {
        let sourceChannels = layout.nb_channels
        let input: AVChannelLayout
        if sourceChannels <= 2 || layout.order == AV_CHANNEL_ORDER_UNSPEC {
            input = defaultChannelLayout(sourceChannels)
        } else {
            input = layout
        }
        let outputChannels = sourceChannels <= 2 ? sourceChannels : Int32(output.channels)
        resampler = try FFmpegResampler(
            input: input, inputFormat: format, inputRate: rate,
            output: defaultChannelLayout(outputChannels), outputFormat: AV_SAMPLE_FMT_FLT, outputRate: Int32(output.sampleRate),
            code: .audioDecoding, label: label)
        channels = Int(outputChannels)
    }

    /// Converts `frames` frames from `planes` (nil flushes) and appends them to `pending`.
    func convert(_ planes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, frames: Int32, into pending: inout PendingFrames) throws {
        let capacity = resampler.maximumOutput(forInput: frames) + 16
        if scratch.count < Int(capacity) * channels { scratch = [Float](repeating: 0, count: Int(capacity) * channels) }
        let produced = try scratch.withUnsafeMutableBufferPointer { scratch in
            var output: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(scratch.baseAddress!).assumingMemoryBound(to: UInt8.self)
            return try resampler.convert(planes, frames: frames, into: &output, capacity: capacity, code: .audioDecoding)
        }
        scratch.withUnsafeBufferPointer { pending.append($0.baseAddress!, frames: Int(produced), sourceChannels: channels) }
    }
}

/// A file decoded by FFmpeg, streamed to the render in the output format.
final class FFmpegFileSource: PCMFrameSource {
    private let decoder: FFmpegDecoder
    private let output: AudioFormat
    private var converter: FloatConverter?
    private var inputShape: (format: Int32, rate: Int32, channels: Int32)?
    private var pending: PendingFrames
    private var ended = false
    let estimatedFrames: Int?

    init(path: String, role: String, output: AudioFormat) throws {
        decoder = try FFmpegDecoder(path: path, role: role)
        self.output = output
        pending = PendingFrames(channels: output.channels)
        estimatedFrames = decoder.declaredSeconds.map { Int(($0 * Double(output.sampleRate)).rounded()) }
    }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        while pending.frames < frames, !ended {
            if let frame = try decoder.nextFrame() {
                let converter = try converter(for: frame)
                let planes = UnsafeMutableRawPointer(frame.pointee.extended_data).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
                try converter.convert(planes, frames: frame.pointee.nb_samples, into: &pending)
            } else {
                try converter?.convert(nil, frames: 0, into: &pending)
                ended = true
            }
        }
        return pending.pop(into: buffer, frames: frames)
    }

    private func converter(for frame: UnsafeMutablePointer<AVFrame>) throws -> FloatConverter {
        let shape = (frame.pointee.format, frame.pointee.sample_rate, frame.pointee.ch_layout.nb_channels)
        if let converter, let inputShape, inputShape == shape { return converter }
        if converter != nil {
            // The stream changed shape mid-way (rare: chained Ogg, some MP3s): drain the old converter first.
            try converter!.convert(nil, frames: 0, into: &pending)
        }
        let made = try FloatConverter(
            layout: frame.pointee.ch_layout, format: AVSampleFormat(rawValue: frame.pointee.format), rate: frame.pointee.sample_rate,
            output: output, label: decoder.label)
        converter = made
        inputShape = shape
        return made
    }
}

/// PCM from memory: copied as is at the output rate, resampled by libswresample otherwise.
final class FFmpegMemorySource: PCMFrameSource {
    private let buffer: PCMBuffer
    private let output: AudioFormat
    private let converter: FloatConverter?
    private var pending: PendingFrames
    private var position = 0
    private var ended = false
    let estimatedFrames: Int?

    init(buffer: PCMBuffer, name: String, role: String, output: AudioFormat) throws {
        guard (1...2).contains(buffer.format.channels), buffer.format.sampleRate > 0 else {
            throw ScaleKitError(.audioDecoding, "\(role) (\(name)) has \(buffer.format) PCM; 1 or 2 channels are supported")
        }
        self.buffer = buffer
        self.output = output
        pending = PendingFrames(channels: output.channels)
        estimatedFrames = Int((Double(buffer.frames) * Double(output.sampleRate) / Double(buffer.format.sampleRate)).rounded())
        if buffer.format.sampleRate == output.sampleRate {
            converter = nil
        } else {
            converter = try FloatConverter(
                layout: defaultChannelLayout(Int32(buffer.format.channels)), format: AV_SAMPLE_FMT_FLT,
                rate: Int32(buffer.format.sampleRate), output: output, label: "\(role) (\(name))")
        }
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

/// Opens any ``AudioSource`` for the FFmpeg mixer.
func openFFmpegSource(_ source: AudioSource, role: String, output: AudioFormat) throws -> any PCMFrameSource {
    switch source {
    case .file(let path): try FFmpegFileSource(path: path, role: role, output: output)
    case .pcm(let buffer, let name): try FFmpegMemorySource(buffer: buffer, name: name, role: role, output: output)
    }
}
