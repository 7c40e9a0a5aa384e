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

    func run() async throws {
        let join = AudioJoin(segments: files.map { AudioSource.file($0) }, gap: gap)
        let audioOutput = try reportingAudioErrors { try output.makeOutput(preferred: nil) }
        try await runAudioCommand(quiet: output.quiet) { progress in
            try await FFmpegAudioMixer().join(join, into: audioOutput, progress: progress)
        }
    }
}
