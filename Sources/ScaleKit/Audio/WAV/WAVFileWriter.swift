import Foundation

/// Writes interleaved float frames to a WAV file through a temporary file that
/// is renamed into place by ``finish()``. Blocking writes; one owner at a time.
package final class WAVFileWriter: PCMFrameSink {
    private let destination: TemporaryOutputFile
    private let encoding: PCMSampleEncoding
    private let format: AudioFormat
    private var handle: FileHandle?
    private var dataBytes = 0
    private var bytes: [UInt8] = []

    /// Creates the temporary file and writes a provisional header.
    /// - Throws: ``ScaleKitError/Code/audioEncoding`` naming the path.
    package init(path: String, format: AudioFormat, encoding: PCMSampleEncoding) throws {
        destination = try TemporaryOutputFile(finalPath: path)
        self.encoding = encoding
        self.format = format
        guard FileManager.default.createFile(atPath: destination.temporaryPath, contents: nil),
            let handle = FileHandle(forWritingAtPath: destination.temporaryPath)
        else {
            throw ScaleKitError(.audioEncoding, "cannot create output file next to \(path)")
        }
        self.handle = handle
        try put(header(dataSize: 0))
    }

    deinit { abort() }

    private func header(dataSize: Int) -> [UInt8] {
        WAVHeader(sampleRate: format.sampleRate, channels: format.channels, encoding: encoding, dataOffset: 0, dataSize: dataSize).encoded()
    }

    private func put(_ chunk: [UInt8]) throws {
        do {
            try handle?.write(contentsOf: chunk)
        } catch {
            throw ScaleKitError(.audioEncoding, "cannot write \(destination.finalPath): \(error.localizedDescription)")
        }
    }

    package func write(_ samples: UnsafePointer<Float>, frames: Int) throws {
        let count = frames * format.channels
        bytes.removeAll(keepingCapacity: true)
        switch encoding {
        case .int16:
            bytes.reserveCapacity(count * 2)
            for i in 0..<count {
                let value = UInt16(bitPattern: int16Sample(samples[i]))
                bytes.append(UInt8(truncatingIfNeeded: value))
                bytes.append(UInt8(truncatingIfNeeded: value >> 8))
            }
        case .float32:
            bytes.reserveCapacity(count * 4)
            for i in 0..<count {
                let value = samples[i].bitPattern
                for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
            }
        }
        try put(bytes)
        dataBytes += bytes.count
    }

    package func finish() throws {
        guard let handle else { return }
        do {
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: header(dataSize: dataBytes))
            try handle.synchronize()
            try handle.close()
        } catch {
            abort()
            throw ScaleKitError(.audioEncoding, "cannot finish \(destination.finalPath): \(error.localizedDescription)")
        }
        self.handle = nil
        try destination.commit()
    }

    package func abort() {
        guard let handle else { return }
        try? handle.close()
        self.handle = nil
        destination.discard()
    }
}
