import Foundation
import ScaleKit
@testable import ScaleKitAudio
import ScaleKitTestSupport
import Testing

/// The mix's read-ahead threads decode the same sources in the same order as
/// the render's own queue would, so the samples are the same whatever the
/// look-ahead; errors still name the clip that failed.
@Suite struct FFmpegReadAheadTests {
    /// The background's length: 12 s, or 4 s under a sanitizer, where every
    /// decoded sample is instrumented and 12 s rendered four times took
    /// minutes; 4 s still spans several windows and read-ahead chunks.
    private static let seconds = TestServers.sanitizerBuild ? 4 : 12

    /// 40 overlapping clips at three rates, mono and stereo, some trimmed and
    /// faded, over a ducked background file; the last clip ends before it.
    private static func timeline(in directory: String) throws -> AudioTimeline {
        try WAVFile.write(sine(frequency: 110, amplitude: 0.2, seconds: Double(seconds), rate: 44_100), to: directory + "/bg.wav")
        let spacing = (Double(seconds) - 1.3) / 40
        var clips: [TimelineClip] = []
        for index in 0..<40 {
            let rate = [22_050, 44_100, 48_000][index % 3]
            var tone = sine(frequency: 300 + Double(index) * 17, amplitude: 0.3, seconds: 0.4 + Double(index % 5) * 0.2, rate: rate)
            if index % 4 == 1 {
                tone = PCMBuffer(format: AudioFormat(sampleRate: rate, channels: 2), samples: tone.samples.flatMap { [$0, -$0 / 2] })
            }
            let path = directory + "/clip\(index).wav"
            try WAVFile.write(tone, to: path)
            let shaped = index % 6 == 5
            clips.append(
                TimelineClip(
                    source: .file(path), start: Double(index) * spacing, gainDB: -Double(index % 7),
                    trim: shaped ? Trim(offset: 0.05, duration: 0.3) : nil, fadeIn: shaped ? Fade(seconds: 0.02) : nil,
                    fadeOut: shaped ? Fade(seconds: 0.1, curve: .equalPower) : nil))
        }
        return AudioTimeline(clips: clips, background: BackgroundTrack(source: .file(directory + "/bg.wav"), gainDB: -3, ducking: Ducking()))
    }

    @Test func samplesAreTheSameWithAndWithoutReadAhead() async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-read-ahead")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let timeline = try Self.timeline(in: directory)
        let alone = try #require(try await FFmpegAudioMixer(readAheadSeconds: nil).mix(timeline, into: .memory()).pcm)
        #expect(alone.frames == Self.seconds * 48_000)
        // A look-ahead shorter than a window makes the render wait for the threads at every window.
        for seconds in [0.005, 1, 10] {
            let ahead = try #require(try await FFmpegAudioMixer(readAheadSeconds: seconds).mix(timeline, into: .memory()).pcm)
            #expect(ahead.samples == alone.samples, "read-ahead \(seconds) s")
        }
    }

    @Test func aBrokenClipFarIntoTheTimelineIsATypedErrorNamingIt() async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-read-ahead-broken")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var timeline = try Self.timeline(in: directory)
        let broken = directory + "/broken.wav"
        try Data("RIFF, but not really a WAV file at all".utf8).write(to: URL(fileURLWithPath: broken))
        timeline.clips[30].source = .file(broken)
        let output = directory + "/out.wav"
        do {
            _ = try await FFmpegAudioMixer(readAheadSeconds: 1).mix(timeline, into: .file(output))
            Issue.record("a broken clip rendered")
        } catch let error as ScaleKitError {
            #expect(error.code == .audioDecoding)
            #expect(error.message.contains("clip 30"), "\(error.message)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") || $0.hasPrefix("out") }.isEmpty)
    }

    @Test func anOutOfRangeReadAheadIsRefused() async throws {
        let timeline = AudioTimeline(clips: [TimelineClip(source: .pcm(sine(frequency: 440, amplitude: 0.1, seconds: 0.1, rate: 48_000), name: "t"), start: 0)])
        await #expect(throws: ScaleKitError.self) { try await FFmpegAudioMixer(readAheadSeconds: 1_000).mix(timeline, into: .memory()) }
    }
}
