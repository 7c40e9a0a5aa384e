import ArgumentParser
import ScaleKit
import ScaleKitAudio

/// `scalekit mix TIMELINE.json -o OUT`: renders a timeline with FFmpeg.
struct MixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mix",
        abstract: "Mix clips placed on a timeline over an optional background.",
        discussion: """
            TIMELINE is JSON: {"sample_rate_out": 48000, "background": {"file": "bg.wav", "gain_db": 0, \
            "duck_db": 12, "duck_ramp": 0.1}, "clips": [{"file": "a.wav", "start": 0.5, "gain_db": -6}]}. \
            Paths are relative to the timeline file. Gains are summed without normalisation; \
            the output lasts as long as the background (or until the last clip ends). \
            A clip may add "trim_start" and "trim_duration" (seconds of its source), \
            "fade_in" and "fade_out" (seconds) and "fade_in_curve"/"fade_out_curve" \
            ("linear" or "equal_power").
            """)

    @Argument(help: "The timeline JSON file.")
    var timeline: String

    @OptionGroup var output: AudioOutputOptions

    @Option(name: .long, help: "Lower the background by this many dB while clips play (overrides the timeline).")
    var duckDb: Double?

    @Option(name: .long, help: "Seconds the ducking takes to slide down and back up.")
    var duckRamp: Double = 0.1

    @Option(name: .long, help: "Seconds of output decoded ahead of the mix on two more threads (0: mix on one thread).")
    var readAhead: Double = 1

    func run() async throws {
        var timeline = try reportingAudioErrors { try AudioTimeline.load(contentsOf: self.timeline) }
        if let duckDb {
            timeline.background?.ducking = Ducking(depthDB: duckDb, rampSeconds: duckRamp)
        }
        let audioOutput = try reportingAudioErrors { try output.makeOutput(preferred: timeline.preferredFormat) }
        let mixTimeline = timeline
        let mixer = FFmpegAudioMixer(readAheadSeconds: readAhead)
        try await runAudioCommand(quiet: output.quiet, json: output.json) { progress in
            try await mixer.mix(mixTimeline, into: audioOutput, progress: progress)
        }
    }
}
