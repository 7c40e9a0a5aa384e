import Foundation
import ScaleKit
import ScaleKitTesting
import ScaleKitTestSupport
import Testing

@Suite struct PCMAudioMixerTests {
    @Test func conformsToAudioMixing() async throws {
        let directory = try makeTemporaryDirectory("pcm-mixer")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await AudioMixingConformance(mixer: PCMAudioMixer(), directory: directory).runAll()
    }

    @Test func refusesNonWAVOutput() async throws {
        let timeline = AudioTimeline(clips: [TimelineClip(source: .pcm(PCMBuffer(silenceOf: 10, format: .stereo48k), name: "s"), start: 0)])
        let error = await #expect(throws: ScaleKitError.self) {
            _ = try await PCMAudioMixer().mix(timeline, into: .file("/tmp/x.m4a"))
        }
        #expect(error?.code == .unsupported)
    }

    @Test func duckingLowersTheBackgroundWhileAClipPlays() async throws {
        let mono = AudioFormat(sampleRate: 1_000, channels: 1)
        let timeline = AudioTimeline(
            clips: [TimelineClip(source: .pcm(PCMBuffer(silenceOf: 200, format: mono), name: "quiet"), start: 0.3)],
            background: BackgroundTrack(
                source: .pcm(PCMBuffer(format: mono, samples: [Float](repeating: 0.5, count: 1_000)), name: "bg"),
                ducking: Ducking(depthDB: 6.020_6, rampSeconds: 0.01)))
        let pcm = try #require(try await PCMAudioMixer().mix(timeline, into: .memory(format: mono)).pcm)
        #expect(pcm[299, 0] == 0.5)
        #expect(abs(pcm[305, 0] - 0.35) < 1e-4)  // 6 of 10 ramp steps down: gain 0.7
        #expect(abs(pcm[400, 0] - 0.25) < 1e-4)
        #expect(abs(pcm[505, 0] - 0.4) < 1e-4)  // 6 steps back up: gain 0.8
        #expect(pcm[600, 0] == 0.5)
    }
}

/// `mix(_:into:onProgress:)`: progress for an async consumer.
@Suite struct AsyncProgressTests {
    /// Ten seconds of output at 1 kHz: many windows, so many reports. (Made
    /// afresh for each use: a static buffer would stay allocated until exit.)
    static var timeline: AudioTimeline { AudioTimeline(
        clips: [TimelineClip(source: .pcm(PCMBuffer(silenceOf: 10_000, format: AudioFormat(sampleRate: 1_000, channels: 1)), name: "s"), start: 0)]) }

    actor Published {
        var fractions: [Double] = []
        func add(_ fraction: Double) async {
            await Task.yield()  // a consumer that awaits, as a status tracker's round trip does
            fractions.append(fraction)
        }
    }

    @Test func anAsyncConsumerSeesProgressUpToTheEnd() async throws {
        let published = Published()
        let summary = try await PCMAudioMixer().mix(
            Self.timeline, into: .memory(format: AudioFormat(sampleRate: 1_000, channels: 1)),
            onProgress: { progress in await published.add(progress.fractionCompleted) })
        #expect(summary.frames == 10_000)
        let fractions = await published.fractions
        #expect(!fractions.isEmpty && fractions == fractions.sorted(), "\(fractions)")
        #expect(fractions.last == 1, "the last report is delivered before the mix returns: \(fractions)")
    }

    /// The consumer's error is the call's error, whether the render was
    /// still running (it is then cancelled) or had just finished.
    @Test func aConsumerThatThrowsFailsTheCallWithItsError() async throws {
        struct PublishFailed: Error {}
        await #expect(throws: PublishFailed.self) {
            _ = try await PCMAudioMixer().join(
                AudioJoin(segments: [.pcm(PCMBuffer(silenceOf: 10_000, format: AudioFormat(sampleRate: 1_000, channels: 1)), name: "a")]),
                into: .memory(format: AudioFormat(sampleRate: 1_000, channels: 1)), onProgress: { _ in throw PublishFailed() })
        }
    }

    /// A render that fails ends the consumer too, and its error is the call's.
    @Test func aFailingRenderEndsTheConsumer() async throws {
        let error = await #expect(throws: ScaleKitError.self) {
            _ = try await PCMAudioMixer().mix(
                AudioTimeline(clips: []), into: .memory(format: AudioFormat(sampleRate: 1_000, channels: 1)),
                onProgress: { _ in try await Task.sleep(for: .seconds(3_600)) })
        }
        #expect(error?.code == .invalidTimeline, "\(String(describing: error))")
    }
}

@Suite struct WAVFileTests {
    @Test func roundTripsInt16AndFloat() throws {
        let directory = try makeTemporaryDirectory("wav")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let buffer = PCMBuffer(format: AudioFormat(sampleRate: 22_050, channels: 2), samples: [0, 0.5, -0.5, 1, -1, 0.25])
        try WAVFile.write(buffer, to: directory + "/f.wav", encoding: .float32)
        #expect(try WAVFile.read(path: directory + "/f.wav") == buffer)
        try WAVFile.write(buffer, to: directory + "/i.wav")
        let int16 = try WAVFile.read(path: directory + "/i.wav")
        #expect(int16.format == buffer.format)
        #expect(int16.samples == [0, 0.5, -0.5, 32767.0 / 32768, -1, 0.25])
    }

    @Test func readsWhatFFmpegsToolsWrite() throws {
        // A canonical 44-byte header, as ffmpeg and espeak-ng write it.
        var bytes = Array("RIFF".utf8) + [40, 0, 0, 0] + Array("WAVEfmt ".utf8)
        bytes += [16, 0, 0, 0, 1, 0, 1, 0, 0x22, 0x56, 0, 0, 0x44, 0xAC, 0, 0, 2, 0, 16, 0]
        bytes += Array("data".utf8) + [4, 0, 0, 0, 0x00, 0x40, 0x00, 0xC0]
        let header = try WAVHeader.parse(bytes, name: "x")
        #expect(header == WAVHeader(sampleRate: 22_050, channels: 1, encoding: .int16, dataOffset: 44, dataSize: 4))
    }
}

@Suite struct AudioTimelineDecodingTests {
    @Test func decodesTheReferenceFormatWithRelativePaths() throws {
        let json = #"""
            {"sample_rate_out": 48000, "channels_out": 2, "semantics": "...",
             "background": {"file": "bg.wav", "gain_db": -3.0, "duration": 600.0},
             "clips": [{"file": "clips/clip_00000.wav", "start": 0.5, "gain_db": -6.0, "duration": 3.47, "text": "Hi."},
                       {"file": "/abs/x.wav", "start": 4.2}]}
            """#
        let timeline = try AudioTimeline.decode(json: Data(json.utf8), relativeTo: "/work/w200")
        #expect(timeline.preferredFormat == .stereo48k)
        #expect(timeline.background?.source.name == "/work/w200/bg.wav")
        #expect(timeline.background?.gainDB == -3)
        #expect(timeline.clips.map(\.source.name) == ["/work/w200/clips/clip_00000.wav", "/abs/x.wav"])
        #expect(timeline.clips.map(\.start) == [0.5, 4.2])
        #expect(timeline.clips.map(\.gainDB) == [-6, 0])
    }

    @Test func malformedTimelineNamesTheProblem() {
        let error = #expect(throws: ScaleKitError.self) {
            _ = try AudioTimeline.decode(json: Data(#"{"clips": [{"start": 1}]}"#.utf8), relativeTo: "/", name: "t.json")
        }
        #expect(error?.code == .invalidTimeline)
        #expect(error?.message.contains("t.json") == true)
        #expect(error?.message.contains("file") == true)
    }

    @Test func outputExtensionChoosesTheFormat() throws {
        #expect(try AudioOutputFile(path: "/a/b.M4A").resolvedFormat() == .m4a)
        #expect(try AudioOutputFile(path: "/a/b.opus").resolvedFormat() == .opus)
        #expect(try AudioOutputFile(path: "/a/b.wav", format: .flac).resolvedFormat() == .flac)
        #expect(throws: ScaleKitError.self) { try AudioOutputFile(path: "/a/b.xyz").resolvedFormat() }
        #expect(throws: ScaleKitError.self) { try AudioOutputFile(path: "/a/noext").resolvedFormat() }
    }
}
