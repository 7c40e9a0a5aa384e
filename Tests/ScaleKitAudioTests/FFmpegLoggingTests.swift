import Foundation
import Logging
import ScaleKit
import ScaleKitAudio
import Synchronization
import Testing

/// FFmpeg's own log lines go to swift-log, at the level asked for, instead
/// of stderr. The route is process-wide, so this suite is serialized and
/// leaves the default (warnings and errors) in place.
@Suite(.serialized) struct FFmpegLoggingTests {
    @Test func encoderChatterIsRoutedAtInfoAndQuietAtWarning() async throws {
        let captured = CapturedLines()
        let directory = try makeTemporaryDirectory("ffmpeg-logging")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tone = sine(frequency: 440, amplitude: 0.3, seconds: 0.5, rate: 48_000)
        func encode(_ name: String) async throws {
            _ = try await FFmpegAudioMixer().join(
                AudioJoin(segments: [.pcm(tone, name: "tone")]), into: .file(directory + "/\(name).m4a", format: .stereo48k))
        }

        FFmpegLogging.route(to: captured.logger, level: .info)
        try await encode("info")
        // The AAC encoder reports its average quantizer at info level when it closes.
        #expect(captured.lines.contains { $0.message.contains("Qavg") && $0.level == .info }, "\(captured.lines)")

        captured.clear()
        FFmpegLogging.route(to: captured.logger, level: .warning)
        try await encode("warning")
        #expect(!captured.lines.contains { $0.message.contains("Qavg") }, "\(captured.lines)")
    }
}

/// A swift-log handler that keeps every line.
final class CapturedLines: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
    }

    private let storage = Mutex<[Line]>([])

    var lines: [Line] { storage.withLock { $0 } }
    func clear() { storage.withLock { $0.removeAll() } }

    var logger: Logger {
        Logger(label: "test.ffmpeg") { _ in Handler(sink: self) }
    }

    fileprivate func append(_ line: Line) { storage.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let sink: CapturedLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { sink.append(Line(level: event.level, message: "\(event.message)")) }
    }
}

/// `FFmpegAudioMixer.probe`: format, rate, channels and length without a decode.
@Suite struct AudioProbeTests {
    @Test func probeReadsTheHeadersOfWAVAndOfWhatFFmpegWrites() async throws {
        let directory = try makeTemporaryDirectory("probe")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try WAVFile.write(sine(frequency: 220, amplitude: 0.3, seconds: 1.5, rate: 22_050), to: directory + "/mono.wav")
        let wav = try await FFmpegAudioMixer.probe(directory + "/mono.wav")
        #expect(wav.container == "wav" && wav.codec.hasPrefix("pcm_") && wav.sampleRate == 22_050 && wav.channels == 1)
        #expect(abs((wav.durationSeconds ?? 0) - 1.5) < 0.01)

        let tone = sine(frequency: 440, amplitude: 0.3, seconds: 2, rate: 48_000)
        _ = try await FFmpegAudioMixer().join(AudioJoin(segments: [.pcm(tone, name: "t")]), into: .file(directory + "/t.opus", format: .stereo48k))
        let opus = try await FFmpegAudioMixer.probe(directory + "/t.opus")
        #expect(opus.codec == "opus" && opus.channels == 2 && opus.sampleRate == 48_000)
        #expect(abs((opus.durationSeconds ?? 0) - 2) < 0.1)
    }

    @Test func probeRefusesWhatIsNotAudio() async throws {
        let directory = try makeTemporaryDirectory("probe-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("not audio at all, just text".utf8).write(to: URL(fileURLWithPath: directory + "/x.mp3"))
        let error = await #expect(throws: ScaleKitError.self) { try await FFmpegAudioMixer.probe(directory + "/x.mp3") }
        #expect(error?.code == .audioDecoding && error?.message.contains("x.mp3") == true)
        let missing = await #expect(throws: ScaleKitError.self) { try await FFmpegAudioMixer.probe(directory + "/absent.wav") }
        #expect(missing?.code == .audioDecoding)
    }
}
