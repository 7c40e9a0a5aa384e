import ArgumentParser
import ScaleKit
import ScaleKitAudio

/// `scalekit join FILES… -o OUT`: plays files back to back with FFmpeg.
struct JoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join audio files back to back, optionally with a silent gap, in linear time.")

    @Argument(help: "The files, in order (any format FFmpeg reads).")
    var files: [String]

    @OptionGroup var output: AudioOutputOptions

    @Option(name: .long, help: "Seconds of silence between neighbouring files.")
    var gap: Double = 0

    @Option(name: .long, help: "Overlap neighbouring files by this many seconds, fading one out as the next fades in (excludes --gap).")
    var crossfade: Double?

    @Option(name: .long, help: "The crossfade's curve: linear or equal-power.")
    var crossfadeCurve: String = "linear"

    func run() async throws {
        guard let curve = FadeCurve(name: crossfadeCurve) else {
            throw ValidationError("--crossfade-curve must be linear or equal-power, not \(crossfadeCurve)")
        }
        let join = AudioJoin(segments: files.map { AudioSource.file($0) }, gap: gap, crossfade: crossfade.map { Fade(seconds: $0, curve: curve) })
        let audioOutput = try reportingAudioErrors { try output.makeOutput(preferred: nil) }
        try await runAudioCommand(quiet: output.quiet, json: output.json) { progress in
            try await FFmpegAudioMixer().join(join, into: audioOutput, progress: progress)
        }
    }
}
