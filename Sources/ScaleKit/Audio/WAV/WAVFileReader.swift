import Foundation

/// Streams frames out of a 16-bit or 32-bit float PCM WAV file. Blocking reads; one owner at a time.
package final class WAVFileReader {
    package let header: WAVHeader
    package let name: String
    private let handle: FileHandle
    private var framesLeft: Int

    /// Opens and checks the file: it must exist, parse, and hold all the frames its header declares.
    /// - Throws: ``ScaleKitError/Code/audioDecoding`` naming the path.
    package init(path: String) throws {
        name = path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be opened" : "does not exist"
            throw ScaleKitError(.audioDecoding, "audio file \(path) \(reason)")
        }
        self.handle = handle
        let prefix: [UInt8]
        do {
            prefix = [UInt8](try handle.read(upToCount: 64 * 1024) ?? Data())
        } catch {
            throw ScaleKitError(.audioDecoding, "cannot read audio file \(path): \(error.localizedDescription)")
        }
        var header = try WAVHeader.parse(prefix, name: path)
        let fileSize = Int((try? handle.seekToEnd()) ?? 0)
        let available = max(0, fileSize - header.dataOffset)
        if header.lengthIsUnknown {
            // Written to a pipe: every whole frame up to the end of the file is data.
            header.dataSize = available - available % header.bytesPerFrame
            guard header.dataSize > 0 else {
                throw ScaleKitError(.audioDecoding, "audio file \(path) is truncated: its header leaves the length open and no whole frame follows it")
            }
        }
        guard available >= header.dataSize else {
            throw ScaleKitError(
                .audioDecoding,
                "audio file \(path) is truncated: its header declares \(header.dataSize / header.bytesPerFrame) frames (\(header.dataSize) data bytes), only \(available / header.bytesPerFrame) whole frames (\(available) bytes) are present")
        }
        self.header = header
        framesLeft = header.dataSize / header.bytesPerFrame
        do {
            try handle.seek(toOffset: UInt64(header.dataOffset))
        } catch {
            throw ScaleKitError(.audioDecoding, "cannot read audio file \(path): \(error.localizedDescription)")
        }
    }

    deinit { try? handle.close() }

    /// Frames the file holds.
    package var totalFrames: Int { header.dataSize / header.bytesPerFrame }

    /// Reads up to `frames` frames as interleaved floats in the file's own channel count and rate.
    package func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        let count = min(frames, framesLeft)
        guard count > 0 else { return 0 }
        let data: Data
        do {
            data = try handle.read(upToCount: count * header.bytesPerFrame) ?? Data()
        } catch {
            throw ScaleKitError(.audioDecoding, "cannot read audio file \(name): \(error.localizedDescription)")
        }
        guard data.count == count * header.bytesPerFrame else {
            throw ScaleKitError(.audioDecoding, "audio file \(name) ended early (truncated while reading)")
        }
        let samples = count * header.channels
        data.withUnsafeBytes { raw in
            switch header.encoding {
            case .int16:
                for i in 0..<samples {
                    buffer[i] = floatSample(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                }
            case .float32:
                for i in 0..<samples {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            }
        }
        framesLeft -= count
        return count
    }
}
