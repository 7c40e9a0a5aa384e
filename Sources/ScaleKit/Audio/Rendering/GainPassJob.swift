import Foundation

/// The second pass of loudness normalisation: reads the float WAV the first
/// pass wrote, multiplies every sample by one gain and emits it to the real
/// output, a window at a time (so memory is a window, whatever the length).
/// The intermediate file is removed when the pass ends, however it ends.
package final class GainPassJob: AudioRenderJob {
    private let intermediatePath: String
    private let reader: WAVFileReader?
    private let gain: Float
    private let output: RenderOutput
    private let windowFrames: Int
    private let totalFrames: Int
    private var buffer: [Float]
    private var done = false

    /// - Parameters:
    ///   - intermediatePath: the first pass's float WAV, in `output`'s format.
    ///   - frames: how many frames the first pass wrote (0: the file is not read).
    ///   - gainDB: the gain to apply to every sample.
    ///   - output: the real output, with its sink.
    package init(intermediatePath: String, frames: Int, gainDB: Double, output: RenderOutput, windowSeconds: Double = defaultWindowSeconds) throws {
        self.intermediatePath = intermediatePath
        self.output = output
        // An empty render leaves a WAV without samples, which the reader refuses: nothing to read then.
        reader = frames > 0 ? try WAVFileReader(path: intermediatePath) : nil
        if let reader, reader.header.channels != output.format.channels || reader.header.sampleRate != output.format.sampleRate {
            throw ScaleKitError(.audioEncoding, "the loudness pass's intermediate \(intermediatePath) is not in the output's format")
        }
        gain = linearGain(decibels: gainDB)
        windowFrames = max(64, output.format.frameIndex(atSeconds: windowSeconds))
        totalFrames = frames
        buffer = [Float](repeating: 0, count: windowFrames * output.format.channels)
    }

    package var progress: AudioProgress {
        let rate = Double(output.format.sampleRate)
        return AudioProgress(
            secondsDone: Double(output.frames) / rate, secondsTotal: Double(totalFrames) / rate,
            fractionCompleted: done ? 1 : Double(output.frames) / Double(max(1, totalFrames)))
    }

    package func renderNextWindow() throws -> Bool {
        guard !done else { return false }
        let read = try buffer.withUnsafeMutableBufferPointer { try reader?.read(into: $0.baseAddress!, frames: windowFrames) ?? 0 }
        guard read > 0 else {
            try output.finish()
            done = true
            unlink(intermediatePath)
            return false
        }
        let gain = gain
        try buffer.withUnsafeMutableBufferPointer { samples in
            let count = read * output.format.channels
            for i in 0..<count { samples[i] *= gain }
            try output.emit(samples.baseAddress!, frames: read)
        }
        return true
    }

    package func summary() -> AudioMixSummary { output.summary(clipsPastEnd: 0) }

    package func abort() {
        output.abort()
        unlink(intermediatePath)
    }
}
