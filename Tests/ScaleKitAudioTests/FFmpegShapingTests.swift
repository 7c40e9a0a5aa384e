import Foundation
import ScaleKit
@testable import ScaleKitAudio
import ScaleKitTestSupport
import Testing

/// Trim, fades and crossfades against the ffmpeg tool's own filters
/// (`atrim`, `afade`, `acrossfade`) on generated clips. Skipped where the
/// ffmpeg tool is not installed, failed there under `SCALEKIT_REQUIRE_SERVERS=1`.
@Suite struct FFmpegShapingTests {
    /// The bound for every comparison with ffmpeg's rendering; the measured figures are far above it.
    static let minimumSNR = 80.0

    @Test func trimAndFadesMatchFFmpegATrimAndAFade() async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("ffmpeg-shaping")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = directory + "/clip.wav"
        try await run(ffmpeg, ["-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*440*t)+0.2*sin(2*PI*1250*t):s=22050:d=3", "-c:a", "pcm_s16le", clip])

        let timeline = AudioTimeline(clips: [
            TimelineClip(
                source: .file(clip), start: 0.5, gainDB: -6, trim: Trim(offset: 0.3, duration: 1.2),
                fadeIn: Fade(seconds: 0.2), fadeOut: Fade(seconds: 0.4, curve: .equalPower))
        ])
        let ours = try #require(try await FFmpegAudioMixer().mix(timeline, into: .memory(format: .stereo48k)).pcm)
        #expect(ours.frames == 24_000 + 57_600)

        // ffmpeg: gain before resampling (as the mixer does), then the cut and the fades at 48 kHz.
        let filter = [
            "aformat=sample_fmts=flt", "volume=-6dB", "aresample=48000", "atrim=start_sample=14400:end_sample=72000", "asetpts=PTS-STARTPTS",
            "afade=t=in:ss=0:ns=9600", "afade=t=out:ss=38400:ns=19200:curve=qsin", "adelay=delays=24000S:all=1", "pan=stereo|c0=c0|c1=c0",
        ].joined(separator: ",")
        let reference = try await render(ffmpeg, inputs: [clip], filter: filter, directory: directory)
        #expect(reference.count == ours.samples.count)
        let snr = signalToNoise(reference: reference, test: ours.samples)
        #expect(snr >= Self.minimumSNR, "SNR \(snr) dB")
    }

    /// A fade out without a trimmed duration ends where the source ends, which
    /// the mixer learns only by reading ahead.
    @Test func fadeOutAtTheSourcesOwnEndMatchesFFmpeg() async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("ffmpeg-fade-end")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = directory + "/clip.wav"
        try await run(ffmpeg, ["-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*330*t):s=44100:d=1.3", "-ac", "2", "-c:a", "pcm_s16le", clip])
        let plain = try #require(
            try await FFmpegAudioMixer().mix(AudioTimeline(clips: [TimelineClip(source: .file(clip), start: 0)]), into: .memory(format: .stereo48k)).pcm)
        let timeline = AudioTimeline(clips: [
            TimelineClip(source: .file(clip), start: 0.25, fadeIn: Fade(seconds: 0.1, curve: .equalPower), fadeOut: Fade(seconds: 0.3))
        ])
        let ours = try #require(try await FFmpegAudioMixer().mix(timeline, into: .memory(format: .stereo48k)).pcm)
        let length = plain.frames
        #expect(ours.frames == 12_000 + length)
        let filter = [
            "aformat=sample_fmts=flt", "aresample=48000", "afade=t=in:ss=0:ns=4800:curve=qsin", "afade=t=out:ss=\(length - 14_400):ns=14400",
            "adelay=delays=12000S:all=1",
        ].joined(separator: ",")
        let reference = try await render(ffmpeg, inputs: [clip], filter: filter, directory: directory)
        #expect(reference.count == ours.samples.count)
        let snr = signalToNoise(reference: reference, test: ours.samples)
        #expect(snr >= Self.minimumSNR, "SNR \(snr) dB")
        // The last frame before the end is faded to 1/n, not cut off.
        #expect(abs(ours.samples[ours.samples.count - 1]) < 0.001)
    }

    @Test(arguments: [FadeCurve.linear, .equalPower])
    func joinCrossfadeMatchesFFmpegACrossfade(_ curve: FadeCurve) async throws {
        guard let ffmpeg = try ffmpegToolOrFailure() else { return }
        let directory = try makeTemporaryDirectory("ffmpeg-crossfade")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = directory + "/a.wav"
        let second = directory + "/b.wav"
        try await run(ffmpeg, ["-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t):s=48000:d=1.5", "-c:a", "pcm_s16le", first])
        try await run(ffmpeg, ["-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*660*t)|0.3*sin(2*PI*550*t):s=44100:d=1", "-c:a", "pcm_s16le", second])
        let join = AudioJoin(segments: [.file(first), .file(second)], crossfade: Fade(seconds: 0.25, curve: curve))
        let ours = try #require(try await FFmpegAudioMixer().join(join, into: .memory(format: .stereo48k)).pcm)
        #expect(ours.frames == 72_000 + 48_000 - 12_000)
        let name = curve == .linear ? "tri" : "qsin"
        let filter = [
            "[0:a]aformat=sample_fmts=flt,pan=stereo|c0=c0|c1=c0,aformat=sample_fmts=flt:channel_layouts=stereo[a]",
            "[1:a]aformat=sample_fmts=flt,aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo[b]",
            "[a][b]acrossfade=ns=12000:c1=\(name):c2=\(name)",
        ].joined(separator: ";")
        let reference = try await render(ffmpeg, inputs: [first, second], filter: filter, directory: directory, complex: true)
        #expect(reference.count == ours.samples.count)
        let snr = signalToNoise(reference: reference, test: ours.samples)
        #expect(snr >= Self.minimumSNR, "\(curve): SNR \(snr) dB")
    }

    @Test func crossfadeRulesAreTypedErrors() async throws {
        let tone = sine(frequency: 440, amplitude: 0.5, seconds: 0.1, rate: 48_000)
        let long = sine(frequency: 440, amplitude: 0.5, seconds: 1, rate: 48_000)
        let withGap = AudioJoin(segments: [.pcm(long, name: "a"), .pcm(long, name: "b")], gap: 0.1, crossfade: Fade(seconds: 0.2))
        let gapError = await #expect(throws: ScaleKitError.self) { _ = try await FFmpegAudioMixer().join(withGap, into: .memory()) }
        #expect(gapError?.code == .invalidArgument)
        let short = AudioJoin(segments: [.pcm(long, name: "a"), .pcm(tone, name: "b"), .pcm(long, name: "c")], crossfade: Fade(seconds: 0.2))
        let shortError = await #expect(throws: ScaleKitError.self) { _ = try await FFmpegAudioMixer().join(short, into: .memory()) }
        #expect(shortError?.code == .invalidArgument && shortError?.message.contains("segment 1") == true, "\(String(describing: shortError))")
        let badFade = AudioTimeline(clips: [TimelineClip(source: .pcm(long, name: "a"), start: 0, fadeIn: Fade(seconds: -1))])
        let fadeError = await #expect(throws: ScaleKitError.self) { _ = try await FFmpegAudioMixer().mix(badFade, into: .memory()) }
        #expect(fadeError?.code == .invalidArgument)
    }

    @Test func timelineFileReadsTrimAndFadeFieldsAndOldFilesReadTheSame() throws {
        let json = """
            {"sample_rate_out": 48000, "clips": [
              {"file": "a.wav", "start": 0.5, "gain_db": -6, "duration": 3.47},
              {"file": "b.wav", "start": 4, "trim_start": 1.5, "trim_duration": 2, "fade_in": 0.05,
               "fade_out": 0.3, "fade_out_curve": "equal_power"}]}
            """
        let timeline = try AudioTimeline.decode(json: Data(json.utf8), relativeTo: "/srv")
        #expect(timeline.clips[0].trim == nil && timeline.clips[0].fadeIn == nil && timeline.clips[0].fadeOut == nil)
        #expect(!timeline.clips[0].isShaped)
        #expect(timeline.clips[1].trim == Trim(offset: 1.5, duration: 2))
        #expect(timeline.clips[1].fadeIn == Fade(seconds: 0.05, curve: .linear))
        #expect(timeline.clips[1].fadeOut == Fade(seconds: 0.3, curve: .equalPower))
        let bad = #"{"clips": [{"file": "a.wav", "start": 0, "fade_in": 1, "fade_in_curve": "cubic"}]}"#
        let error = #expect(throws: ScaleKitError.self) { _ = try AudioTimeline.decode(json: Data(bad.utf8), relativeTo: "/srv") }
        #expect(error?.code == .invalidTimeline && error?.message.contains("fade_in_curve") == true)
    }

    @Test func fadeCurvesAreFFmpegs() {
        #expect(FadeCurve.linear.gain(0, of: 4) == 0)
        #expect(FadeCurve.linear.gain(1, of: 4) == 0.25)
        #expect(FadeCurve.linear.gain(9, of: 4) == 1)
        #expect(abs(FadeCurve.equalPower.gain(2, of: 4) - 0.5.squareRoot()) < 1e-12)
        #expect(FadeCurve(name: "equal-power") == .equalPower && FadeCurve(name: "qsin") == .equalPower && FadeCurve(name: "x") == nil)
    }
}

func ffmpegTool() -> String? {
    ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first(where: FileManager.default.isExecutableFile(atPath:))
}

/// Runs the ffmpeg tool with `arguments` (quiet, overwriting) and requires success.
func run(_ ffmpeg: String, _ arguments: [String]) async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ffmpeg)
    process.arguments = ["-nostdin", "-v", "error", "-y"] + arguments
    try process.run()
    let running = ShapingProcessBox(process: process)
    try await offThePool { running.process.waitUntilExit() }
    try #require(process.terminationStatus == 0, "ffmpeg \(arguments.joined(separator: " "))")
}

/// ffmpeg's rendering of `inputs` through `filter`, as interleaved 32-bit float.
func render(_ ffmpeg: String, inputs: [String], filter: String, directory: String, complex: Bool = false) async throws -> [Float] {
    let output = directory + "/reference-\(UUID().uuidString).f32"
    let arguments = inputs.flatMap { ["-i", $0] } + [complex ? "-filter_complex" : "-af", filter, "-f", "f32le", "-c:a", "pcm_f32le", output]
    try await run(ffmpeg, arguments)
    let data = try Data(contentsOf: URL(fileURLWithPath: output))
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

/// 10·log10(Σ ref² / Σ (ref − test)²) over the common length; +∞ when identical.
func signalToNoise(reference: [Float], test: [Float]) -> Double {
    var signal = 0.0
    var noise = 0.0
    for i in 0..<min(reference.count, test.count) {
        signal += Double(reference[i]) * Double(reference[i])
        let d = Double(reference[i]) - Double(test[i])
        noise += d * d
    }
    return noise == 0 ? .infinity : 10 * log10(signal / noise)
}

/// `Process` is safe to wait on from one thread once it runs.
private struct ShapingProcessBox: @unchecked Sendable { let process: Process }
