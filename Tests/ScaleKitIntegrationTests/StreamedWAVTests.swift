import Foundation
import ScaleKit
import ScaleKitTestSupport
import Testing

/// WAV files written to a pipe leave their sizes as "unknown" (0xFFFFFFFF);
/// they are valid and read to the end of the file. A file that is really
/// truncated says how many frames it holds.
@Suite struct StreamedWAVTests {
    /// A 16-bit mono WAV at 8 kHz with `frames` frames of a ramp and the given size fields.
    private func wav(frames: Int, riffSize: UInt32, dataSize: UInt32) -> Data {
        var bytes: [UInt8] = []
        func put32(_ v: UInt32) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func put16(_ v: UInt16) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        bytes += Array("RIFF".utf8); put32(riffSize); bytes += Array("WAVEfmt ".utf8); put32(16)
        put16(1); put16(1); put32(8_000); put32(16_000); put16(2); put16(16)
        bytes += Array("data".utf8); put32(dataSize)
        for i in 0..<frames { put16(UInt16(bitPattern: Int16(i % 1000))) }
        return Data(bytes)
    }

    @Test(arguments: [(UInt32.max, UInt32.max), (UInt32.max, 0), (0, 0)] as [(UInt32, UInt32)])
    func unknownLengthMarkersAreReadToTheEnd(riffSize: UInt32, dataSize: UInt32) throws {
        let folder = try TemporaryFolder()
        let path = folder.path("pipe.wav")
        var data = wav(frames: 4_000, riffSize: riffSize, dataSize: dataSize)
        data.append(0x7F)  // half a frame at the end, as a cut pipe may leave
        try data.write(to: URL(fileURLWithPath: path))
        let buffer = try WAVFile.read(path: path)
        #expect(buffer.frames == 4_000)
        #expect(buffer[3_999, 0] == Float(3_999 % 1000) / 32_768)
    }

    @Test func aTruncatedFileSaysHowManyFramesItHolds() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("cut.wav")
        try wav(frames: 478, riffSize: 36 + 16_000, dataSize: 16_000).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ScaleKitError.self) { try WAVFile.read(path: path) }
        #expect(error?.message.contains("declares 8000 frames") == true && error?.message.contains("only 478 whole frames") == true, "\(String(describing: error))")
    }

    private static let ffmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs a shell script off Swift's cooperative pool (it waits for the process).
    private func shell(_ script: String) async throws {
        let status = try await offThePool { () throws -> Int32 in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 0, "\(script)")
    }

    /// Through the tool (FFmpeg): ffmpeg's own pipe output is accepted, and a
    /// really truncated file reports the frames decoded before its end.
    @Test(.enabled(if: ffmpeg != nil)) func theToolReadsWhatFFmpegWritesToAPipe() async throws {
        let folder = try TemporaryFolder()
        let ffmpeg = try #require(Self.ffmpeg)
        try await shell("'\(ffmpeg)' -v error -f lavfi -i sine=r=44100 -t 1 -f wav - | cat > '\(folder.path("pipe.wav"))'")
        try await shell("'\(ffmpeg)' -v error -f lavfi -i sine=r=44100 -t 1 '\(folder.path("full.wav"))' && head -c 1000 '\(folder.path("full.wav"))' > '\(folder.path("cut.wav"))'")
        let joined = try await ScaleKitProcesses.runOne(environment: [:], arguments: ["join", folder.path("pipe.wav"), "-o", folder.path("out.wav"), "-q"])
        #expect(joined.status == 0 && joined.standardOutput.contains("48000 frames"), "\(joined.standardOutput) \(joined.standardError)")
        let cut = try await ScaleKitProcesses.runOne(environment: [:], arguments: ["join", folder.path("cut.wav"), "-o", folder.path("out2.wav"), "-q"])
        // 1 000 bytes minus the header hold 461 whole 16-bit mono frames, and the error says so.
        #expect(cut.status == 1 && cut.standardError.contains("after 461 decoded frames"), "\(cut.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("out2.wav")))
    }
}
