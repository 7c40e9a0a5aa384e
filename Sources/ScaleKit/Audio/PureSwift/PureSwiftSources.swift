/// Frames from memory, already at the output rate; channels mapped on read.
final class MemoryFrameSource: PCMFrameSource {
    private let samples: [Float]
    private let channels: Int
    private let outputChannels: Int
    private var position = 0
    let estimatedFrames: Int?

    init(samples: [Float], channels: Int, outputChannels: Int) {
        self.samples = samples
        self.channels = channels
        self.outputChannels = outputChannels
        estimatedFrames = samples.count / channels
    }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        let count = min(frames, samples.count / channels - position)
        guard count > 0 else { return 0 }
        samples.withUnsafeBufferPointer { all in
            mapChannels(all.baseAddress! + position * channels, channels: channels, to: buffer, channels: outputChannels, frames: count)
        }
        position += count
        return count
    }
}

/// Frames streamed from a WAV file whose rate already matches the output.
final class WAVFrameSource: PCMFrameSource {
    private let reader: WAVFileReader
    private let outputChannels: Int
    private var scratch: [Float] = []

    init(reader: WAVFileReader, outputChannels: Int) {
        self.reader = reader
        self.outputChannels = outputChannels
    }

    var estimatedFrames: Int? { reader.totalFrames }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        let channels = reader.header.channels
        if channels == outputChannels { return try reader.read(into: buffer, frames: frames) }
        if scratch.count < frames * channels { scratch = [Float](repeating: 0, count: frames * channels) }
        return try scratch.withUnsafeMutableBufferPointer { scratch in
            let got = try reader.read(into: scratch.baseAddress!, frames: frames)
            mapChannels(scratch.baseAddress!, channels: channels, to: buffer, channels: outputChannels, frames: got)
            return got
        }
    }
}

/// Linear-interpolation resampling of a whole interleaved buffer, to
/// `round(frames × to / from)` frames. Good enough for a test fake, not for
/// listening: the FFmpeg mixer uses libswresample.
func resampleLinearly(_ samples: [Float], channels: Int, from inputRate: Int, to outputRate: Int) -> [Float] {
    let inputFrames = samples.count / channels
    guard inputRate != outputRate, inputFrames > 0 else { return samples }
    let outputFrames = Int((Double(inputFrames) * Double(outputRate) / Double(inputRate)).rounded())
    var out = [Float](repeating: 0, count: outputFrames * channels)
    let step = Double(inputRate) / Double(outputRate)
    for frame in 0..<outputFrames {
        let position = Double(frame) * step
        let index = min(Int(position), inputFrames - 1)
        let next = min(index + 1, inputFrames - 1)
        let fraction = Float(position - Double(index))
        for c in 0..<channels {
            let a = samples[index * channels + c]
            let b = samples[next * channels + c]
            out[frame * channels + c] = a + (b - a) * fraction
        }
    }
    return out
}
