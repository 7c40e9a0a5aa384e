import Foundation
import ScaleKit
@testable import ScaleKitAudio
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

@Suite struct FFmpegAudioMixerTests {
    @Test func conformsToAudioMixing() async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-mixer")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await AudioMixingConformance(mixer: FFmpegAudioMixer(), directory: directory).runAll()
    }

    /// Every output format encodes, decodes back to about the same length and level, and leaves no temporary file.
    @Test(arguments: AudioFileFormat.allCases)
    func encodesAndDecodesEveryFormat(_ format: AudioFileFormat) async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-format")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tone = sine(frequency: 440, amplitude: 0.5, seconds: 2, rate: 44_100)
        let path = directory + "/out.\(format.rawValue)"
        let summary = try await FFmpegAudioMixer().join(
            AudioJoin(segments: [.pcm(tone, name: "tone")]), into: .file(path, format: AudioFormat(sampleRate: 44_100, channels: 2)))
        #expect(summary.frames == 88_200)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.\(format.rawValue)"])

        let decoded = try #require(
            try await FFmpegAudioMixer().join(AudioJoin(segments: [.file(path)]), into: .memory(format: AudioFormat(sampleRate: 44_100, channels: 1))).pcm)
        // Lossy codecs add priming/padding unless the container trims it: allow 50 ms.
        #expect(abs(decoded.frames - 88_200) <= (format.isLossy ? 2_205 : 0), "\(format): \(decoded.frames) frames")
        let middle = decoded.samples[22_050..<66_150]
        let rms = sqrt(middle.reduce(0) { $0 + Double($1) * Double($1) } / Double(middle.count))
        #expect(abs(rms - 0.5 / 2.0.squareRoot()) < 0.02, "\(format): RMS \(rms)")
    }

    @Test func decodesOggVorbisMadeByTheFFmpegTool() async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("ffmpeg-vorbis")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tone.ogg"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = ["-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=330:d=1:r=22050", "-c:a", "libvorbis", path]
        try process.run()
        let running = ProcessBox(process: process)
        try await offThePool { running.process.waitUntilExit() }
        try #require(process.terminationStatus == 0)
        let summary = try await FFmpegAudioMixer().join(AudioJoin(segments: [.file(path)]), into: .memory(format: .stereo48k))
        #expect(abs(summary.frames - 48_000) <= 1_000)
        #expect(summary.peak > 0.05)
    }

    @Test func monoFileGoesToBothChannelsAtUnityAfterResampling() async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-mono")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try WAVFile.write(sine(frequency: 200, amplitude: 0.4, seconds: 1, rate: 22_050), to: directory + "/mono.wav")
        let pcm = try #require(
            try await FFmpegAudioMixer().mix(
                AudioTimeline(clips: [TimelineClip(source: .file(directory + "/mono.wav"), start: 0)]), into: .memory(format: .stereo48k)
            ).pcm)
        #expect(abs(pcm.frames - 48_000) <= 2)
        let left = stride(from: 0, to: pcm.samples.count, by: 2).map { pcm.samples[$0] }
        let right = stride(from: 1, to: pcm.samples.count, by: 2).map { pcm.samples[$0] }
        #expect(left == right)
        #expect(abs((left.max() ?? 0) - 0.4) < 0.005)
    }

    /// Compressed files cut short, cut to their first bytes, overwritten in the
    /// middle, empty, or not audio at all behind an audio extension. What
    /// cannot be decoded at all is `audioDecoding` naming the file; a file cut
    /// at a frame boundary or with damage the codec conceals may decode
    /// (shorter or with a glitch): never a crash, never another error.
    @Test(arguments: [AudioFileFormat.mp3, .opus, .flac, .m4a])
    func damagedCompressedFilesAreTypedErrors(_ format: AudioFileFormat) async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-damaged")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let whole = directory + "/whole.\(format.rawValue)"
        _ = try await FFmpegAudioMixer().join(
            AudioJoin(segments: [.pcm(sine(frequency: 440, amplitude: 0.5, seconds: 2, rate: 48_000), name: "tone")]),
            into: .file(whole, format: AudioFormat(sampleRate: 48_000, channels: 1)))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        var overwritten = bytes
        for index in stride(from: bytes.count / 3, to: 2 * bytes.count / 3, by: 1) { overwritten[index] = UInt8(truncatingIfNeeded: index &* 131) }
        let variants: [(name: String, bytes: Data, mustFail: Bool)] = [
            ("empty", Data(), true),
            ("first-bytes", bytes.prefix(24), true),
            ("not-audio", Data("Meeting notes, not audio. ".utf8 + (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7) }), true),
            ("half", bytes.prefix(bytes.count / 2), false),
            ("overwritten", overwritten, false),
        ]
        for variant in variants {
            let path = directory + "/\(variant.name).\(format.rawValue)"
            try variant.bytes.write(to: URL(fileURLWithPath: path))
            do {
                let summary = try await FFmpegAudioMixer().join(AudioJoin(segments: [.file(path)]), into: .memory(format: .stereo48k))
                #expect(!variant.mustFail, "\(format) \(variant.name) decoded \(summary.frames) frames instead of failing")
                #expect(summary.frames <= 48_000 * 2 + 4_800)
            } catch let error as ScaleKitError {
                #expect(error.code == .audioDecoding && error.message.contains(variant.name), "\(format) \(variant.name): \(error)")
            }
        }
    }

    /// Regression (found by Fuzz/FuzzAudioDecoder): a WAVE_FORMAT_EXTENSIBLE
    /// header claiming about 1 GHz made the resampler allocate over 2 GB.
    /// The fuzz input's first byte picks the file name; the rest is the file.
    @Test func fuzzFindingOneGigahertzWAVIsRefused() async throws {
        let input = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/Corpus/FuzzAudioDecoder/regression-oom-1ghz-extensible-wav")
        let directory = try makeTemporaryDirectory("ffmpeg-fuzz")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/input.wav"
        try Data(try Data(contentsOf: input).dropFirst()).write(to: URL(fileURLWithPath: path))
        for mixer in [FFmpegAudioMixer() as any AudioMixing, PCMAudioMixer()] {
            let error = await #expect(throws: ScaleKitError.self) {
                _ = try await mixer.join(AudioJoin(segments: [.file(path)]), into: .memory(format: AudioFormat(sampleRate: 8_000, channels: 1)))
            }
            #expect(error?.code == .audioDecoding && error?.message.contains("input.wav") == true, "\(type(of: mixer)): \(String(describing: error))")
        }
    }

    /// Regression (found by Fuzz/FuzzAudioDecoder): 132 bytes of WAV whose
    /// LIST/INFO chunk declares 1.1 GB made FFmpeg's demuxer allocate it.
    /// With `FFmpegAllocationLimit.audio` applied it is a typed error. (The
    /// allocation itself is caught by the fuzz stage, whose malloc limit
    /// fails on it: the input is in the fuzzer's corpus.)
    @Test func fuzzFindingHugeDeclaredChunkIsATypedErrorUnderTheAllocationLimit() async throws {
        FFmpegAllocationLimit.audio.apply()
        let input = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/Corpus/FuzzAudioDecoder/regression-oom-1gb-info-chunk-wav")
        let directory = try makeTemporaryDirectory("ffmpeg-fuzz")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/input.wav"
        try Data(try Data(contentsOf: input).dropFirst()).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: ScaleKitError.self) {
            _ = try await FFmpegAudioMixer().join(AudioJoin(segments: [.file(path)]), into: .memory(format: AudioFormat(sampleRate: 8_000, channels: 1)))
        }
        #expect(error?.code == .audioDecoding && error?.message.contains("input.wav") == true, "\(String(describing: error))")
    }

    @Test func unknownExtensionAndMissingFolderAreTypedErrors() async throws {
        let timeline = AudioTimeline(clips: [TimelineClip(source: .pcm(PCMBuffer(silenceOf: 100, format: .stereo48k), name: "s"), start: 0)])
        let unknown = await #expect(throws: ScaleKitError.self) { _ = try await FFmpegAudioMixer().mix(timeline, into: .file("/tmp/out.xyz")) }
        #expect(unknown?.code == .invalidArgument)
        let folder = await #expect(throws: ScaleKitError.self) { _ = try await FFmpegAudioMixer().mix(timeline, into: .file("/nonexistent-dir/out.wav")) }
        #expect(folder?.code == .audioEncoding)
        #expect(folder?.message.contains("/nonexistent-dir") == true)
    }
}

func sine(frequency: Double, amplitude: Float, seconds: Double, rate: Int) -> PCMBuffer {
    let frames = Int(seconds * Double(rate))
    let samples = (0..<frames).map { amplitude * Float(sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    return PCMBuffer(format: AudioFormat(sampleRate: rate, channels: 1), samples: samples)
}

func makeTemporaryDirectory(_ prefix: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

@Suite struct PreRollTests {
    @Test func preRollCoversTheFilterAndKeepsWholeFrames() {
        #expect(FloatConverter.preRollFrames(from: 22_050, to: 48_000)! == (147, 320))
        #expect(FloatConverter.preRollFrames(from: 44_100, to: 48_000)! == (147, 160))
        #expect(FloatConverter.preRollFrames(from: 16_000, to: 48_000)! == (32, 96))
        #expect(FloatConverter.preRollFrames(from: 48_000, to: 44_100)! == (160, 147))
        // 44 101 Hz shares no factor with 48 kHz: a whole-frame pre-roll would take a second, so none.
        #expect(FloatConverter.preRollFrames(from: 44_101, to: 48_000) == nil)
    }
}

/// `Process` is safe to wait on from one thread once it runs.
private struct ProcessBox: @unchecked Sendable { let process: Process }
