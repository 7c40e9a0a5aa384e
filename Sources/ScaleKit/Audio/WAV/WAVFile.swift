/// Whole-file WAV reading and writing, for fixtures and tests (16-bit PCM or 32-bit float).
public enum WAVFile {
    /// Reads the whole file into memory. Blocking.
    /// - Throws: ``ScaleKitError/Code/audioDecoding`` naming the path for a missing,
    ///   empty, truncated or non-PCM file.
    public static func read(path: String) throws -> PCMBuffer {
        let reader = try WAVFileReader(path: path)
        let format = AudioFormat(sampleRate: reader.header.sampleRate, channels: reader.header.channels)
        var samples = [Float](repeating: 0, count: reader.totalFrames * format.channels)
        if reader.totalFrames > 0 {
            let got = try samples.withUnsafeMutableBufferPointer { try reader.read(into: $0.baseAddress!, frames: reader.totalFrames) }
            precondition(got == reader.totalFrames, "WAVFileReader checked the length at open")
        }
        return PCMBuffer(format: format, samples: samples)
    }

    /// Writes `buffer` to `path` atomically (temporary file, then rename). Blocking.
    /// - Throws: ``ScaleKitError/Code/audioEncoding`` naming the path.
    public static func write(_ buffer: PCMBuffer, to path: String, encoding: PCMSampleEncoding = .int16) throws {
        let writer = try WAVFileWriter(path: path, format: buffer.format, encoding: encoding)
        if buffer.frames > 0 {
            try buffer.samples.withUnsafeBufferPointer { try writer.write($0.baseAddress!, frames: buffer.frames) }
        }
        try writer.finish()
    }
}
