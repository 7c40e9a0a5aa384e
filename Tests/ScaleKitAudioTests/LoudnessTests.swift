import Foundation
import ScaleKit
import ScaleKitAudio
import ScaleKitTestSupport
import Testing

/// Loudness measurement and normalisation against ffmpeg's own `ebur128`
/// filter, on generated clips (espeak-ng speech where it is installed).
@Suite struct LoudnessTests {
    /// A test clip and the format it is in.
    enum Clip: String, CaseIterable, Sendable {
        case speechMono22k, noiseStereo44k, speechStereo48k

        var format: AudioFormat {
            switch self {
            case .speechMono22k: AudioFormat(sampleRate: 22_050, channels: 1)
            case .noiseStereo44k: AudioFormat(sampleRate: 44_100, channels: 2)
            case .speechStereo48k: .stereo48k
            }
        }

        /// Writes the clip to `directory` and returns its path.
        func make(_ ffmpeg: String, in directory: String) async throws -> String {
            let path = "\(directory)/\(rawValue).wav"
            let speech = try await Self.speech(ffmpeg, in: directory)
            switch self {
            case .speechMono22k:
                try await run(ffmpeg, ["-i", speech, "-ar", "22050", "-ac", "1", "-c:a", "pcm_s16le", path])
            case .noiseStereo44k:
                // Pink noise left, quieter brown noise right, swelling and fading (so the gates have work),
                // band-limited to 12 kHz like programme material. Noise is AAC's hardest input: normalised
                // to −16 LUFS, the M4A measures −16.4 (−16.5 full-band) where speech loses 0.1 LU.
                try await run(ffmpeg, [
                    "-f", "lavfi", "-i", "anoisesrc=c=pink:r=44100:a=0.4:d=8:seed=3", "-f", "lavfi", "-i", "anoisesrc=c=brown:r=44100:a=0.3:d=8:seed=9",
                    "-filter_complex", "[0][1]amerge=inputs=2,volume='0.2+0.8*abs(sin(0.5*t))':eval=frame,lowpass=f=12000", "-c:a", "pcm_s16le", path,
                ])
            case .speechStereo48k:
                // Speech left, the same speech 6 dB down with a quiet 220 Hz tone right.
                try await run(ffmpeg, [
                    "-i", speech, "-f", "lavfi", "-i", "sine=f=220:r=48000:d=30",
                    "-filter_complex",
                    "[0]aresample=48000,pan=stereo|c0=c0|c1=0.5*c0[s];[1]volume=0.05,pan=stereo|c0=0*c0|c1=c0[t];[s][t]amix=inputs=2:duration=first:normalize=0",
                    "-ar", "48000", "-c:a", "pcm_s16le", path,
                ])
            }
            return path
        }

        /// About eight seconds of espeak-ng speech (22.05 kHz mono), or where it
        /// is missing a speech-like tone: bursts of a harmonic sound with pauses.
        static func speech(_ ffmpeg: String, in directory: String) async throws -> String {
            let path = "\(directory)/speech-source.wav"
            if FileManager.default.fileExists(atPath: path) { return path }
            if let espeak = ["/usr/bin/espeak-ng", "/usr/local/bin/espeak-ng"].first(where: FileManager.default.isExecutableFile(atPath:)) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: espeak)
                process.arguments = [
                    "-w", path, "-s", "150",
                    "The quick brown fox jumps over the lazy dog. Loudness is measured in blocks of four hundred milliseconds, gated twice.",
                ]
                try process.run()
                let running = LoudnessProcessBox(process: process)
                try await offThePool { running.process.waitUntilExit() }
                try #require(process.terminationStatus == 0, "espeak-ng")
            } else {
                try await run(ffmpeg, [
                    "-f", "lavfi", "-i",
                    "aevalsrc='(0.3*sin(2*PI*180*t)+0.15*sin(2*PI*360*t)+0.08*sin(2*PI*1250*t))*gt(sin(2*PI*0.7*t),0.2)':s=22050:d=8",
                    "-c:a", "pcm_s16le", path,
                ])
            }
            return path
        }
    }

    /// Our meter on the samples the mixer writes vs ffmpeg's on the file.
    @Test(.enabled(if: !TestServers.sanitizerBuild), arguments: Clip.allCases)
    func measurementAgreesWithFFmpegEBUR128(_ clip: Clip) async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("loudness-measure")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try await clip.make(ffmpeg, in: directory)
        // A join of one file in its own format passes its samples through unchanged.
        let summary = try await FFmpegAudioMixer().join(
            AudioJoin(segments: [.file(path)]), into: AudioOutput(format: clip.format, capturesPCM: true, measuresLoudness: true))
        let ours = try #require(summary.loudness)
        let reference = try await ffmpegLoudness(ffmpeg, of: path)
        let integrated = try #require(ours.integratedLUFS)
        print("loudness \(clip): ours I \(integrated) LUFS, TP \(ours.truePeakDBTP) dBTP; ffmpeg I \(reference.integratedLUFS), TP \(reference.truePeakDBTP)")
        // ffmpeg prints one decimal, so up to 0.05 of the difference is its rounding.
        #expect(abs(integrated - reference.integratedLUFS) <= 0.1, "\(clip): \(integrated) vs ffmpeg \(reference.integratedLUFS) LUFS")
        #expect(abs(ours.truePeakDBTP - reference.truePeakDBTP) <= 0.2, "\(clip): \(ours.truePeakDBTP) vs ffmpeg \(reference.truePeakDBTP) dBTP")
    }

    /// Normalised WAV and M4A land within 0.5 LU of the target by ffmpeg's meter, with no intermediate left behind.
    /// (The speech peaks 17 dB above its loudness, so −16 LUFS under a −1 dBTP
    /// ceiling is out of its reach: the noise, 13 dB, takes the −16 cases.)
    @Test(.enabled(if: !TestServers.sanitizerBuild), arguments: [(-16.0, "wav", Clip.noiseStereo44k), (-23.0, "wav", .speechStereo48k), (-16.0, "m4a", .noiseStereo44k), (-23.0, "m4a", .speechStereo48k)])
    func normalisedOutputLandsOnTheTarget(_ target: Double, _ ext: String, _ source: Clip) async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("loudness-normalise")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try await source.make(ffmpeg, in: directory)
        let out = directory + "/out/mix.\(ext)"
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        var output = AudioOutput.file(out)
        output.loudnessTarget = LoudnessTarget(integratedLUFS: target)
        let timeline = AudioTimeline(clips: [TimelineClip(source: .file(clip), start: 0.5, gainDB: -9)])
        let summary = try await FFmpegAudioMixer().mix(timeline, into: output)
        let plan = try #require(summary.normalisation)
        let before = try #require(plan.before.integratedLUFS)
        let after = try #require(summary.loudness?.integratedLUFS)
        #expect(!plan.limitedByTruePeak && abs(plan.gainDB - (target - before)) < 1e-9)
        #expect(abs(after - target) < 0.05, "our measurement after the gain: \(after)")
        let reference = try await ffmpegLoudness(ffmpeg, of: out)
        print("normalised \(source) \(ext) to \(target): gain \(plan.gainDB) dB; ffmpeg I \(reference.integratedLUFS) LUFS, TP \(reference.truePeakDBTP)")
        #expect(abs(reference.integratedLUFS - target) <= 0.5, "\(ext) → \(target): ffmpeg measures \(reference.integratedLUFS)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/out") == ["mix.\(ext)"])
    }

    /// Loud noise normalised to −5 LUFS would peak far above −1 dBTP: the ceiling limits the gain.
    @Test(.enabled(if: !TestServers.sanitizerBuild)) func truePeakCeilingLimitsTheGain() async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("loudness-ceiling")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try await Clip.noiseStereo44k.make(ffmpeg, in: directory)
        let out = directory + "/loud.wav"
        let output = AudioOutput(
            format: Clip.noiseStereo44k.format, file: AudioOutputFile(path: out), loudnessTarget: LoudnessTarget(integratedLUFS: -5, truePeakCeilingDBTP: -1))
        let summary = try await FFmpegAudioMixer().join(AudioJoin(segments: [.file(clip)]), into: output)
        let plan = try #require(summary.normalisation)
        #expect(plan.limitedByTruePeak)
        let ours = try #require(summary.loudness)
        #expect(ours.truePeakDBTP <= -1 + 0.01, "our true peak after: \(ours.truePeakDBTP)")
        #expect(try #require(ours.integratedLUFS) < -5)
        let reference = try await ffmpegLoudness(ffmpeg, of: out)
        print("ceiling: gain \(plan.gainDB) dB, ours TP \(ours.truePeakDBTP); ffmpeg TP \(reference.truePeakDBTP) dBTP, I \(reference.integratedLUFS)")
        #expect(reference.truePeakDBTP <= -1 + 0.2, "ffmpeg true peak \(reference.truePeakDBTP)")
    }

    /// Silence has no integrated loudness; normalising it leaves it as it is (gain 0 dB), not an error.
    @Test(.enabled(if: !TestServers.sanitizerBuild)) func silenceIsLeftAlone() async throws {
        let directory = try makeTemporaryDirectory("loudness-silence")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let silence = PCMBuffer(silenceOf: 96_000, format: .stereo48k)
        let out = directory + "/silence.wav"
        var output = AudioOutput.file(out)
        output.loudnessTarget = LoudnessTarget(integratedLUFS: -16)
        output.capturesPCM = true
        let summary = try await FFmpegAudioMixer().join(AudioJoin(segments: [.pcm(silence, name: "silence")]), into: output)
        #expect(summary.loudness?.integratedLUFS == nil && summary.loudness?.truePeak == 0)
        #expect(summary.normalisation?.gainDB == 0 && summary.normalisation?.before.integratedLUFS == nil)
        #expect(summary.frames == 96_000 && summary.pcm?.samples.allSatisfy { $0 == 0 } == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["silence.wav"])
    }

    @Test func outOfRangeTargetIsAnInvalidArgumentAndWritesNothing() async throws {
        let directory = try makeTemporaryDirectory("loudness-invalid")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var output = AudioOutput.file(directory + "/out.wav")
        output.loudnessTarget = LoudnessTarget(integratedLUFS: 3)
        let tone = sine(frequency: 440, amplitude: 0.5, seconds: 1, rate: 48_000)
        let error = await #expect(throws: ScaleKitError.self) {
            _ = try await FFmpegAudioMixer().join(AudioJoin(segments: [.pcm(tone, name: "tone")]), into: output)
        }
        #expect(error?.code == .invalidArgument && error?.message.contains("loudness target") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}

/// `Process` is safe to wait on from one thread once it runs.
private struct LoudnessProcessBox: @unchecked Sendable { let process: Process }
