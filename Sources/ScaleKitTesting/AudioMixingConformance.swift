public import ScaleKit
import Foundation
import Synchronization

/// A violation found by ``AudioMixingConformance``: which check, and what differed.
public struct AudioMixingConformanceViolation: Error, CustomStringConvertible {
    /// The check's name (the method that failed).
    public var check: String
    /// What was expected and what came out.
    public var detail: String

    public var description: String { "AudioMixing conformance: \(check): \(detail)" }
}

/// Checks that an ``/ScaleKit/AudioMixing`` backend keeps the protocol's promises.
///
/// Each check is a plain `async throws` function that throws
/// ``AudioMixingConformanceViolation`` (or the mixer's own unexpected error),
/// so it runs under Swift Testing or XCTest alike:
/// ```swift
/// @Test func conformance() async throws {
///     try await AudioMixingConformance(mixer: MyMixer(), directory: tempDir).runAll()
/// }
/// ```
/// Inputs are generated in memory or written as 16-bit WAV files into
/// `directory` (which must exist and should be empty); outputs use 48 kHz,
/// the inputs' rate, so sample values are checked exactly where no
/// resampling is involved.
public struct AudioMixingConformance<Mixer: AudioMixing>: Sendable {
    /// The backend under test.
    public let mixer: Mixer
    /// A scratch folder for input and output files.
    public let directory: String

    let rate = 48_000
    let mono48k = AudioFormat(sampleRate: 48_000, channels: 1)
    let stereo48k = AudioFormat(sampleRate: 48_000, channels: 2)

    /// A suite for `mixer` that writes its files into `directory` (which must
    /// exist and should be empty).
    public init(mixer: Mixer, directory: String) {
        self.mixer = mixer
        self.directory = directory
    }

    /// Runs every check in turn and stops at the first violation.
    public func runAll() async throws {
        try await joinKeepsOrderLengthAndGap()
        try await joinResamplesToTheOutputRate()
        try await mixPlacesClipsAtExactFrames()
        try await mixAppliesGains()
        try await mixSumsWithoutNormalising()
        try await monoGoesToBothChannelsAtUnity()
        try await outputLengthFollowsBackgroundOrLastClip()
        try await duckingLowersTheBackgroundWhileClipsPlay()
        try await clippingRuleIsAppliedAndReported()
        try await fileOutputMatchesCapturedPCM()
        try await progressIsReported()
        try await cancellationStopsAndRemovesOutput()
        try await badInputsThrowTypedErrors()
        try await hostileWAVHeadersAreRefused()
    }

    // MARK: - Join

    /// Segments come out in order, at their exact lengths, with the gap between neighbours only.
    public func joinKeepsOrderLengthAndGap() async throws {
        let check = "joinKeepsOrderLengthAndGap"
        let lengths = [100, 2_000, 37, 15_000]
        let segments = lengths.enumerated().map { index, frames in
            AudioSource.pcm(constant(Float(index + 1) / 10, frames: frames, format: mono48k), name: "segment-\(index)")
        }
        let gap = 0.01  // 480 frames
        let summary = try await mixer.join(AudioJoin(segments: segments, gap: gap), into: .memory(format: mono48k))
        let pcm = try captured(summary, check)
        let expected = lengths.reduce(0, +) + 480 * (lengths.count - 1)
        try expect(pcm.frames == expected && summary.frames == expected, check, "expected \(expected) frames, got \(pcm.frames) (summary \(summary.frames))")
        var position = 0
        for (index, frames) in lengths.enumerated() {
            let value = Float(index + 1) / 10
            for frame in [position, position + frames / 2, position + frames - 1] {
                try expectClose(pcm[frame, 0], value, check, "segment \(index) frame \(frame - position)")
            }
            position += frames
            if index < lengths.count - 1 {
                for frame in [position, position + 479] { try expectClose(pcm[frame, 0], 0, check, "gap after segment \(index)") }
                position += 480
            }
        }
        let noGap = try await mixer.join(AudioJoin(segments: segments), into: .memory(format: mono48k))
        try expect(noGap.frames == lengths.reduce(0, +), check, "without a gap expected \(lengths.reduce(0, +)) frames, got \(noGap.frames)")
    }

    /// A segment at another rate is resampled: its length scales with the rate ratio (±4 frames) and its level holds.
    public func joinResamplesToTheOutputRate() async throws {
        let check = "joinResamplesToTheOutputRate"
        let format22k = AudioFormat(sampleRate: 22_050, channels: 1)
        let segment = constant(0.25, frames: 22_050, format: format22k)
        let summary = try await mixer.join(AudioJoin(segments: [.pcm(segment, name: "22k")]), into: .memory(format: stereo48k))
        let pcm = try captured(summary, check)
        try expect(abs(pcm.frames - 48_000) <= 4, check, "1 s at 22 050 Hz became \(pcm.frames) frames at 48 kHz, expected 48 000 ± 4")
        for frame in [1_000, 24_000, 40_000] {
            try expectClose(pcm[frame, 0], 0.25, check, "resampled level at frame \(frame)", tolerance: 1e-3)
            try expectClose(pcm[frame, 1], 0.25, check, "resampled level (right) at frame \(frame)", tolerance: 1e-3)
        }
    }

    // MARK: - Mix

    /// A clip's first sample lands on frame `round(start × rate)`.
    public func mixPlacesClipsAtExactFrames() async throws {
        let check = "mixPlacesClipsAtExactFrames"
        let starts: [(Double, Int)] = [(0, 0), (0.0105, 504), (0.25, 12_000), (1.0 / 3.0, 16_000), (0.7, 33_600)]
        let clips = starts.enumerated().map { index, start in
            TimelineClip(source: .pcm(impulse(0.5, frames: 50, format: mono48k), name: "impulse-\(index)"), start: start.0)
        }
        let summary = try await mixer.mix(AudioTimeline(clips: clips), into: .memory(format: mono48k))
        let pcm = try captured(summary, check)
        try expect(pcm.frames == 33_650, check, "expected 33 650 frames (last start + 50), got \(pcm.frames)")
        var expectedImpulses = Set(starts.map(\.1))
        for frame in 0..<pcm.frames where pcm[frame, 0] != 0 {
            guard expectedImpulses.remove(frame) != nil else {
                throw AudioMixingConformanceViolation(check: check, detail: "unexpected sample \(pcm[frame, 0]) at frame \(frame)")
            }
            try expectClose(pcm[frame, 0], 0.5, check, "impulse at frame \(frame)")
        }
        try expect(expectedImpulses.isEmpty, check, "no impulse at frames \(expectedImpulses.sorted())")
    }

    /// Gains in dB scale clips and the background by 10^(dB/20).
    public func mixAppliesGains() async throws {
        let check = "mixAppliesGains"
        let timeline = AudioTimeline(
            clips: [
                TimelineClip(source: .pcm(constant(0.5, frames: 4_800, format: mono48k), name: "a"), start: 0.1, gainDB: -6),
                TimelineClip(source: .pcm(constant(0.5, frames: 4_800, format: mono48k), name: "b"), start: 0.3, gainDB: 3),
            ],
            background: BackgroundTrack(source: .pcm(constant(0.2, frames: 24_000, format: mono48k), name: "bg"), gainDB: -20))
        let pcm = try captured(try await mixer.mix(timeline, into: .memory(format: mono48k)), check)
        try expectClose(pcm[100, 0], 0.02, check, "background at −20 dB")
        try expectClose(pcm[4_800 + 10, 0], 0.02 + 0.5 * 0.501_187_2, check, "clip at −6 dB over background", tolerance: 1e-5)
        try expectClose(pcm[14_400 + 10, 0], 0.02 + 0.5 * 1.412_537_5, check, "clip at +3 dB over background", tolerance: 1e-5)
    }

    /// Overlapping inputs are summed as they are: never divided by the number of inputs.
    public func mixSumsWithoutNormalising() async throws {
        let check = "mixSumsWithoutNormalising"
        let clips = (0..<4).map { index in
            TimelineClip(source: .pcm(constant(0.125, frames: 4_800, format: mono48k), name: "c\(index)"), start: 0.01 * Double(index))
        }
        let timeline = AudioTimeline(clips: clips, background: BackgroundTrack(source: .pcm(constant(0.1, frames: 9_600, format: mono48k), name: "bg")))
        let summary = try await mixer.mix(timeline, into: .memory(format: mono48k))
        let pcm = try captured(summary, check)
        try expectClose(pcm[2_000, 0], 0.1 + 4 * 0.125, check, "four clips and the background at frame 2000")
        try expectClose(pcm[600, 0], 0.1 + 2 * 0.125, check, "two clips and the background at frame 600")
        try expect(!summary.clippingRuleEngaged, check, "the clipping rule engaged although the peak is 0.6")
    }

    /// A mono input appears on both channels of a stereo output at unity gain; stereo stays stereo.
    public func monoGoesToBothChannelsAtUnity() async throws {
        let check = "monoGoesToBothChannelsAtUnity"
        var stereoSamples: [Float] = []
        for _ in 0..<9_600 { stereoSamples += [0.1, -0.2] }
        let timeline = AudioTimeline(
            clips: [TimelineClip(source: .pcm(constant(0.3, frames: 4_800, format: mono48k), name: "mono"), start: 0)],
            background: BackgroundTrack(source: .pcm(PCMBuffer(format: stereo48k, samples: stereoSamples), name: "stereo-bg")))
        let pcm = try captured(try await mixer.mix(timeline, into: .memory(format: stereo48k)), check)
        try expect(pcm.format.channels == 2, check, "output has \(pcm.format.channels) channels")
        try expectClose(pcm[100, 0], 0.4, check, "left = mono clip + left background")
        try expectClose(pcm[100, 1], 0.1, check, "right = mono clip + right background")
        try expectClose(pcm[5_000, 0], 0.1, check, "left background alone (channels swapped?)")
        try expectClose(pcm[5_000, 1], -0.2, check, "right background alone (channels swapped?)")
    }

    /// With a background the output lasts exactly as long as it; without, until the last clip ends.
    public func outputLengthFollowsBackgroundOrLastClip() async throws {
        let check = "outputLengthFollowsBackgroundOrLastClip"
        let clip = TimelineClip(source: .pcm(constant(0.1, frames: 30_000, format: mono48k), name: "long"), start: 0.5)
        let late = TimelineClip(source: .pcm(constant(0.1, frames: 100, format: mono48k), name: "late"), start: 5)
        let background = BackgroundTrack(source: .pcm(constant(0.05, frames: 48_000, format: mono48k), name: "bg"))
        let withBackground = try await mixer.mix(AudioTimeline(clips: [clip, late], background: background), into: .memory(format: mono48k))
        try expect(withBackground.frames == 48_000, check, "with a 1 s background expected 48 000 frames, got \(withBackground.frames)")
        try expect(withBackground.clipsPastEnd == 1, check, "expected 1 clip past the end, got \(withBackground.clipsPastEnd)")
        let withoutBackground = try await mixer.mix(AudioTimeline(clips: [clip]), into: .memory(format: mono48k))
        try expect(withoutBackground.frames == 54_000, check, "without a background expected 24 000 + 30 000 frames, got \(withoutBackground.frames)")
        let pcm = try captured(withoutBackground, check)
        try expectClose(pcm[0, 0], 0, check, "silence before the first clip")
        try expectClose(pcm[53_999, 0], 0.1, check, "last frame of the last clip")
    }

    /// With ``/ScaleKit/Ducking`` the background slides down by the depth over the ramp while a clip plays, and back after.
    public func duckingLowersTheBackgroundWhileClipsPlay() async throws {
        let check = "duckingLowersTheBackgroundWhileClipsPlay"
        let timeline = AudioTimeline(
            clips: [TimelineClip(source: .pcm(constant(0, frames: 9_600, format: mono48k), name: "silent-speech"), start: 0.3)],
            background: BackgroundTrack(
                source: .pcm(constant(0.5, frames: 48_000, format: mono48k), name: "bg"),
                ducking: Ducking(depthDB: 20 * log10(2), rampSeconds: 0.01)))  // halve over 480 frames
        let pcm = try captured(try await mixer.mix(timeline, into: .memory(format: mono48k)), check)
        try expectClose(pcm[14_399, 0], 0.5, check, "background before the clip")
        try expectClose(pcm[14_400 + 239, 0], 0.5 * (1 - 240 * 0.5 / 480), check, "halfway down the ramp", tolerance: 1e-4)
        try expectClose(pcm[20_000, 0], 0.25, check, "ducked background under the clip", tolerance: 1e-5)
        try expectClose(pcm[24_000 + 239, 0], 0.25 + 0.5 * 240 * 0.5 / 480, check, "halfway back up", tolerance: 1e-4)
        try expectClose(pcm[30_000, 0], 0.5, check, "background after the clip", tolerance: 1e-5)
    }

    /// A sum beyond full scale is limited (default), clamped or refused, and always reported; a quiet mix passes untouched.
    public func clippingRuleIsAppliedAndReported() async throws {
        let check = "clippingRuleIsAppliedAndReported"
        let loud = AudioTimeline(clips: [
            TimelineClip(source: .pcm(constant(0.8, frames: 4_800, format: mono48k), name: "x"), start: 0),
            TimelineClip(source: .pcm(constant(0.8, frames: 4_800, format: mono48k), name: "y"), start: 0),
        ])
        let limited = try await mixer.mix(loud, into: .memory(format: mono48k))
        let pcm = try captured(limited, check)
        try expect(limited.clippingRuleEngaged, check, "the limiter did not report engaging for a 1.6 peak")
        try expectClose(limited.peak, 1.6, check, "reported peak before limiting", tolerance: 1e-5)
        try expect(pcm.samples.allSatisfy { abs($0) <= 1 }, check, "limited output exceeds full scale")
        let clamped = try await mixer.mix(loud, into: .memory(format: mono48k, clipping: .hardClip))
        try expectClose(try captured(clamped, check)[100, 0], 1, check, "hard clip clamps to 1.0")
        try expect(clamped.clippingRuleEngaged, check, "hard clip did not report engaging")
        do {
            _ = try await mixer.mix(loud, into: .memory(format: mono48k, clipping: .fail))
            throw AudioMixingConformanceViolation(check: check, detail: ".fail did not throw for a 1.6 peak")
        } catch let error as ScaleKitError {
            try expect(error.code == .audioEncoding, check, ".fail threw \(error.code), expected audioEncoding")
        }
        let quiet = AudioTimeline(clips: [TimelineClip(source: .pcm(constant(0.9, frames: 480, format: mono48k), name: "q"), start: 0)])
        let untouched = try await mixer.mix(quiet, into: .memory(format: mono48k))
        try expect(!untouched.clippingRuleEngaged, check, "the rule engaged on a 0.9 peak")
        try expect(try captured(untouched, check).samples.allSatisfy { $0 == 0.9 }, check, "a quiet mix was altered")
    }

    /// A WAV file output holds the captured samples, quantised to 16 bits, and no temporary file remains.
    public func fileOutputMatchesCapturedPCM() async throws {
        let check = "fileOutputMatchesCapturedPCM"
        let clipPath = path("fm-clip.wav")
        var ramp = PCMBuffer(silenceOf: 9_600, format: mono48k)
        for i in 0..<ramp.frames { ramp.samples[i] = Float(i % 200 - 100) / 128 }
        try WAVFile.write(ramp, to: clipPath)
        let outPath = path("fm-out.wav")
        let timeline = AudioTimeline(clips: [
            TimelineClip(source: .file(clipPath), start: 0.02, gainDB: -3),
            TimelineClip(source: .pcm(constant(0.25, frames: 4_800, format: mono48k), name: "tone"), start: 0.1),
        ])
        let summary = try await mixer.mix(
            timeline, into: AudioOutput(format: stereo48k, file: AudioOutputFile(path: outPath), capturesPCM: true))
        let pcm = try captured(summary, check)
        let written = try WAVFile.read(path: outPath)
        try expect(written.format == stereo48k, check, "file format \(written.format), expected \(stereo48k)")
        try expect(written.frames == pcm.frames, check, "file has \(written.frames) frames, capture \(pcm.frames)")
        for i in 0..<pcm.samples.count where floatSample16(pcm.samples[i]) != written.samples[i] {
            throw AudioMixingConformanceViolation(check: check, detail: "sample \(i): file \(written.samples[i]) vs captured \(pcm.samples[i])")
        }
        try expectClose(pcm[960 + 7, 0], ramp[7, 0] * 0.707_945_8, check, "file clip at −3 dB", tolerance: 1e-5)
        let left = try leftovers()
        try expect(left.isEmpty, check, "temporary files left: \(left)")
    }

    /// Progress is reported, grows, and ends at the output length.
    public func progressIsReported() async throws {
        let check = "progressIsReported"
        let reports = ReportBox()
        let timeline = AudioTimeline(
            clips: [TimelineClip(source: .pcm(constant(0.1, frames: 4_800, format: mono48k), name: "c"), start: 1)],
            background: BackgroundTrack(source: .pcm(constant(0.1, frames: 5 * rate, format: mono48k), name: "bg")))
        _ = try await mixer.mix(timeline, into: .memory(format: mono48k), progress: { reports.add($0) })
        let seen = reports.all
        try expect(seen.count >= 2, check, "expected several progress reports for 5 s of output, got \(seen.count)")
        try expect(zip(seen, seen.dropFirst()).allSatisfy { $0.secondsDone <= $1.secondsDone }, check, "progress went backwards")
        try expectClose(Float(seen.last?.secondsDone ?? 0), 5, check, "last report's secondsDone")
        try expectClose(Float(seen.last?.fractionCompleted ?? 0), 1, check, "last report's fractionCompleted")
    }

    /// Cancelling the task stops the mix with `.cancelled` and leaves no output file.
    public func cancellationStopsAndRemovesOutput() async throws {
        let check = "cancellationStopsAndRemovesOutput"
        let outPath = path("cancelled.wav")
        let timeline = AudioTimeline(
            clips: [TimelineClip(source: .pcm(constant(0.1, frames: 4_800, format: mono48k), name: "c"), start: 1)],
            background: BackgroundTrack(source: .pcm(constant(0.05, frames: 120 * rate, format: mono48k), name: "two-minutes")))
        let mixer = mixer
        let outcome: Result<AudioMixSummary, any Error> = await withTaskGroup(of: Result<AudioMixSummary, any Error>.self) { group in
            group.addTask {
                do {
                    return .success(
                        try await mixer.mix(timeline, into: .file(outPath, format: mono48k)) { _ in
                            // The handler runs on the mixing task: cancel it after the first window.
                            withUnsafeCurrentTask { $0?.cancel() }
                        })
                } catch {
                    return .failure(error)
                }
            }
            return await group.next()!
        }
        switch outcome {
        case .success:
            throw AudioMixingConformanceViolation(check: check, detail: "the mix completed although its task was cancelled")
        case .failure(let error):
            let code = (error as? ScaleKitError)?.code
            try expect(code == .cancelled || error is CancellationError, check, "expected ScaleKitError.cancelled, got \(error)")
        }
        try expect(!FileManager.default.fileExists(atPath: outPath), check, "the cancelled output \(outPath) exists")
        let left = try leftovers()
        try expect(left.isEmpty, check, "temporary files left: \(left)")
    }

    /// Each kind of bad input throws the documented code, naming the file or clip, and leaves no output.
    public func badInputsThrowTypedErrors() async throws {
        let check = "badInputsThrowTypedErrors"
        let good = constant(0.1, frames: 480, format: mono48k)
        let out = path("bad-out.wav")
        let missing = path("does-not-exist.wav")
        let empty = path("empty.wav")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let truncated = path("truncated.wav")
        try WAVFile.write(constant(0.1, frames: 48_000, format: mono48k), to: truncated)
        let whole = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        let corrupt = path("corrupt.wav")
        var generator = SplitMix(seed: 42)
        try Data((0..<20_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }).write(to: URL(fileURLWithPath: corrupt))
        let text = path("notes.txt")
        try Data("These are meeting notes, not audio.\n".utf8).write(to: URL(fileURLWithPath: text))

        for file in [missing, empty, truncated, corrupt, text] {
            let timeline = AudioTimeline(clips: [
                TimelineClip(source: .pcm(good, name: "fine"), start: 0),
                TimelineClip(source: .file(file), start: 0.01),
            ])
            try await expectError(.audioDecoding, mentioning: (file as NSString).lastPathComponent, check) {
                _ = try await mixer.mix(timeline, into: .file(out, format: mono48k))
            }
            try await expectError(.audioDecoding, mentioning: (file as NSString).lastPathComponent, check) {
                _ = try await mixer.join(AudioJoin(segments: [.pcm(good, name: "fine"), .file(file)]), into: .file(out, format: mono48k))
            }
        }
        let negative = AudioTimeline(clips: [
            TimelineClip(source: .pcm(good, name: "fine"), start: 0),
            TimelineClip(source: .pcm(good, name: "early"), start: -0.5),
        ])
        try await expectError(.invalidArgument, mentioning: "clip 1", check) {
            _ = try await mixer.mix(negative, into: .file(out, format: mono48k))
        }
        try await expectError(.invalidTimeline, mentioning: "no clips", check) {
            _ = try await mixer.mix(AudioTimeline(clips: []), into: .file(out, format: mono48k))
        }
        try await expectError(.invalidTimeline, mentioning: "no segments", check) {
            _ = try await mixer.join(AudioJoin(segments: []), into: .file(out, format: mono48k))
        }
        try await expectError(.invalidArgument, mentioning: ".xyz", check) {
            _ = try await mixer.mix(AudioTimeline(clips: [TimelineClip(source: .pcm(good, name: "fine"), start: 0)]), into: .file(path("out.xyz")))
        }
        try expect(!FileManager.default.fileExists(atPath: out), check, "a failed mix left \(out) behind")
        let left = try leftovers()
        try expect(left.isEmpty, check, "temporary files left: \(left)")
    }

    /// WAV files whose header lies (0 Hz, 4 GHz, 1 GHz, 2³¹ Hz, no channels, 65 535
    /// channels) or that hold no sample at all: each is refused with
    /// `audioDecoding` naming the file, and an existing output file is left
    /// exactly as it was.
    public func hostileWAVHeadersAreRefused() async throws {
        let check = "hostileWAVHeadersAreRefused"
        let good = constant(0.1, frames: 480, format: mono48k)
        let out = path("precious.wav")
        let precious = Data("an earlier result that must survive a failed mix".utf8)
        try precious.write(to: URL(fileURLWithPath: out))
        let cases: [(name: String, rate: UInt32, channels: UInt16, dataBytes: Int)] = [
            ("no-samples.wav", 48_000, 1, 0),
            ("zero-hz.wav", 0, 1, 9_600),
            ("four-ghz.wav", 0xFFFF_FFFF, 1, 9_600),
            ("one-ghz.wav", 1_000_000_000, 2, 9_600),
            ("800-khz.wav", 800_000, 1, 9_600),
            ("two-to-the-31-hz.wav", 0x8000_0000, 2, 9_600),
            ("no-channels.wav", 48_000, 0, 9_600),
            ("65535-channels.wav", 48_000, 0xFFFF, 9_600),
        ]
        for hostile in cases {
            let file = path(hostile.name)
            try Self.wavBytes(rate: hostile.rate, channels: hostile.channels, dataBytes: hostile.dataBytes)
                .write(to: URL(fileURLWithPath: file))
            let timeline = AudioTimeline(clips: [
                TimelineClip(source: .pcm(good, name: "fine"), start: 0),
                TimelineClip(source: .file(file), start: 0.001),
            ])
            try await expectError(.audioDecoding, mentioning: hostile.name, check) {
                _ = try await mixer.mix(timeline, into: .file(out, format: mono48k))
            }
            try await expectError(.audioDecoding, mentioning: hostile.name, check) {
                _ = try await mixer.join(AudioJoin(segments: [.file(file), .pcm(good, name: "fine")]), into: .file(out, format: mono48k))
            }
            let kept = try Data(contentsOf: URL(fileURLWithPath: out))
            try expect(kept == precious, check, "a failed mix of \(hostile.name) changed the existing output file")
        }
        let left = try leftovers()
        try expect(left.isEmpty, check, "temporary files left: \(left)")
    }

    /// A 16-bit PCM WAV file whose header says `rate` and `channels`, followed
    /// by `dataBytes` bytes of a quiet square wave (whatever the header claims).
    static func wavBytes(rate: UInt32, channels: UInt16, dataBytes: Int) -> Data {
        var bytes = Data()
        func put32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        func put16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        bytes.append(contentsOf: Array("RIFF".utf8))
        put32(UInt32(36 + dataBytes))
        bytes.append(contentsOf: Array("WAVEfmt ".utf8))
        put32(16)
        put16(1)  // PCM
        put16(channels)
        put32(rate)
        put32(rate &* UInt32(channels) &* 2)  // byte rate, wrapping like a careless writer's
        put16(channels &* 2)  // block align
        put16(16)
        bytes.append(contentsOf: Array("data".utf8))
        put32(UInt32(dataBytes))
        for index in 0..<dataBytes { bytes.append(index / 40 % 2 == 0 ? 0x10 : 0xF0) }
        return bytes
    }

    // MARK: - Helpers

    private func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    private func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".partial") }
    }

    private func constant(_ value: Float, frames: Int, format: AudioFormat) -> PCMBuffer {
        PCMBuffer(format: format, samples: [Float](repeating: value, count: frames * format.channels))
    }

    private func impulse(_ value: Float, frames: Int, format: AudioFormat) -> PCMBuffer {
        var buffer = PCMBuffer(silenceOf: frames, format: format)
        for c in 0..<format.channels { buffer.samples[c] = value }
        return buffer
    }

    private func captured(_ summary: AudioMixSummary, _ check: String) throws -> PCMBuffer {
        guard let pcm = summary.pcm else { throw AudioMixingConformanceViolation(check: check, detail: "no PCM captured although requested") }
        return pcm
    }

    private func floatSample16(_ value: Float) -> Float {
        let scaled = (value * 32768).rounded(.toNearestOrEven)
        return Float(min(max(scaled, -32768), 32767)) / 32768
    }

    private func expect(_ condition: Bool, _ check: String, _ detail: @autoclosure () -> String) throws {
        if !condition { throw AudioMixingConformanceViolation(check: check, detail: detail()) }
    }

    private func expectClose(_ actual: Float, _ expected: Float, _ check: String, _ what: String, tolerance: Float = 1e-6) throws {
        if !(abs(actual - expected) <= tolerance) {
            throw AudioMixingConformanceViolation(check: check, detail: "\(what): expected \(expected), got \(actual)")
        }
    }

    private func expectError(
        _ code: ScaleKitError.Code, mentioning text: String, _ check: String, _ body: () async throws -> Void
    ) async throws {
        do {
            try await body()
        } catch let error as ScaleKitError {
            try expect(error.code == code, check, "expected \(code) mentioning \"\(text)\", got \(error)")
            try expect(error.message.contains(text), check, "the \(code) error does not name \"\(text)\": \(error.message)")
            return
        }
        throw AudioMixingConformanceViolation(check: check, detail: "expected \(code) mentioning \"\(text)\", nothing was thrown")
    }
}

/// Collects progress reports from the mixing task.
private final class ReportBox: Sendable {
    private let reports = SanitizerVisibleMutex<[AudioProgress]>([])
    func add(_ report: AudioProgress) { reports.withLock { $0.append(report) } }
    var all: [AudioProgress] { reports.withLock { $0 } }
}

/// A tiny deterministic generator for corrupt-file bytes.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
