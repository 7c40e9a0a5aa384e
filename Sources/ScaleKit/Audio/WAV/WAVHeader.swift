/// The fields of a RIFF/WAVE header the readers and writers need.
package struct WAVHeader: Sendable, Equatable {
    package var sampleRate: Int
    package var channels: Int
    package var encoding: PCMSampleEncoding
    /// Byte offset of the first sample.
    package var dataOffset: Int
    /// Bytes of sample data the header declares (``unknownDataSize`` when it says "length unknown").
    package var dataSize: Int

    /// What a writer that could not seek back (ffmpeg writing to a pipe) puts
    /// in the data chunk's size: 0xFFFFFFFF, "the data runs to the end of the file".
    package static let unknownDataSize = 0xFFFF_FFFF
    /// Whether the header leaves the data's length open (the data runs to the end of the file).
    package var lengthIsUnknown: Bool { dataSize == Self.unknownDataSize }

    package init(sampleRate: Int, channels: Int, encoding: PCMSampleEncoding, dataOffset: Int, dataSize: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.encoding = encoding
        self.dataOffset = dataOffset
        self.dataSize = dataSize
    }

    package var bytesPerFrame: Int { channels * (encoding == .int16 ? 2 : 4) }

    /// The highest sample rate a readable file may declare (FFmpeg's own WAV demuxer is similar).
    package static let maximumSampleRate = 768_000
    /// The most channels a readable file may declare.
    package static let maximumChannels = 64

    /// Parses a header from the first bytes of a file.
    /// - Throws: ``ScaleKitError/Code/audioDecoding`` naming `name` when the bytes are not a PCM WAV header.
    package static func parse(_ bytes: [UInt8], name: String) throws -> WAVHeader {
        func fail(_ why: String) -> ScaleKitError { ScaleKitError(.audioDecoding, "\(name) is not a readable WAV file: \(why)") }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        guard bytes.count >= 12 else { throw fail(bytes.isEmpty ? "the file is empty" : "too short for a RIFF header") }
        guard bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw fail("no RIFF/WAVE signature")
        }
        var offset = 12
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = u32(offset + 4)
            let body = offset + 8
            if id == "fmt " {
                guard size >= 16, body + 16 <= bytes.count else { throw fail("fmt chunk is truncated") }
                var tag = u16(body)
                if tag == 0xFFFE, size >= 40, body + 26 <= bytes.count { tag = u16(body + 24) }  // WAVE_FORMAT_EXTENSIBLE sub-format
                format = (tag, u16(body + 2), u32(body + 4), u16(body + 14))
            } else if id == "data" {
                guard let format else { throw fail("data chunk before fmt chunk") }
                let encoding: PCMSampleEncoding
                switch (format.tag, format.bits) {
                case (1, 16): encoding = .int16
                case (3, 32): encoding = .float32
                default: throw fail("format tag \(format.tag) with \(format.bits) bits is not 16-bit PCM or 32-bit float")
                }
                guard format.channels > 0, format.rate > 0 else { throw fail("zero channels or sample rate") }
                // Headers lie: refuse what no real recording has, before any buffer is sized from it.
                guard format.rate <= maximumSampleRate else { throw fail("a sample rate of \(format.rate) Hz is beyond \(maximumSampleRate) Hz") }
                guard format.channels <= maximumChannels else { throw fail("\(format.channels) channels are more than \(maximumChannels)") }
                // A streaming writer leaves the sizes as 0xFFFFFFFF (or the data size
                // 0 under a RIFF size of 0xFFFFFFFF): the data runs to the end of the file.
                let riffSize = u32(4)
                let size = size == 0 && (riffSize == unknownDataSize || riffSize == 0) ? unknownDataSize : size
                guard size > 0 else { throw fail("the data chunk holds no samples") }
                return WAVHeader(sampleRate: format.rate, channels: format.channels, encoding: encoding, dataOffset: body, dataSize: size)
            }
            offset = body + size + (size & 1)
        }
        throw fail("no data chunk")
    }

    /// Whether the first bytes of a RIFF/WAVE file (any codec) leave the data
    /// chunk's length open, as a streaming writer does; the FFmpeg decoder then
    /// accepts a short last packet as the end of the data, not as damage.
    package static func declaresUnknownLength(_ bytes: [UInt8]) -> Bool {
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else { return false }
        var offset = 12
        while offset + 8 <= bytes.count {
            let size = u32(offset + 4)
            if bytes[offset..<(offset + 4)].elementsEqual("data".utf8) {
                return size == unknownDataSize || (size == 0 && (u32(4) == unknownDataSize || u32(4) == 0))
            }
            offset += 8 + size + (size & 1)
        }
        return false
    }

    /// A canonical 44-byte header (46 for float, which needs the `cbSize` field) for `dataSize` bytes.
    package func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func put32(_ v: Int) { for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: v >> shift)) } }
        func put16(_ v: Int) { out.append(UInt8(truncatingIfNeeded: v)); out.append(UInt8(truncatingIfNeeded: v >> 8)) }
        let fmtSize = encoding == .int16 ? 16 : 18
        out += Array("RIFF".utf8)
        put32(4 + (8 + fmtSize) + 8 + dataSize)
        out += Array("WAVEfmt ".utf8)
        put32(fmtSize)
        put16(encoding == .int16 ? 1 : 3)
        put16(channels)
        put32(sampleRate)
        put32(sampleRate * bytesPerFrame)
        put16(bytesPerFrame)
        put16(encoding == .int16 ? 16 : 32)
        if encoding == .float32 { put16(0) }
        out += Array("data".utf8)
        put32(dataSize)
        return out
    }
}

/// 16-bit integer to float, as FFmpeg converts it: `x / 32768`.
package func floatSample(_ value: Int16) -> Float { Float(value) * (1 / 32768) }

/// Float to 16-bit integer, as FFmpeg converts it: `×32768`, round to nearest even, saturate.
package func int16Sample(_ value: Float) -> Int16 {
    let scaled = (value * 32768).rounded(.toNearestOrEven)
    if !(scaled >= -32768) { return scaled.isNaN ? 0 : -32768 }
    if scaled > 32767 { return 32767 }
    return Int16(scaled)
}
