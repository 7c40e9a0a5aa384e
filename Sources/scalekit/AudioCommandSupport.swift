import ArgumentParser
import Foundation
import ScaleKit
import ScaleKitAudio
import Synchronization

/// Output options shared by `mix` and `join`.
struct AudioOutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output file; the extension picks the format (wav, flac, mp3, m4a, aac, opus).")
    var output: String

    @Option(name: .long, help: "Format to write regardless of the extension: wav, flac, mp3, m4a, aac, opus.")
    var format: String?

    @Option(name: .long, help: "Bit rate for lossy formats, e.g. 192k or 128000.")
    var bitrate: String?

    @Option(name: .long, help: "Output sample rate in Hz (default: the timeline's, else 48000).")
    var sampleRate: Int?

    @Option(name: .long, help: "Output channels, 1 or 2 (default: the timeline's, else 2).")
    var channels: Int?

    @Option(name: .long, help: "Beyond full scale: limiter (default), clip, or fail.")
    var clipping: String = "limiter"

    @Option(name: .long, help: "Refuse to write more than this many seconds of output (default 21600, 6 hours; at most 604800).")
    var maxDuration: Double = AudioLimits.defaultMaximumDuration

    @Flag(name: .long, help: "Write 32-bit float WAV instead of 16-bit.")
    var float = false

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    // `.unconditional`: the value is negative, which would otherwise read as an option.
    @Option(name: .long, parsing: .unconditional, help: "Normalise the output to this integrated loudness in LUFS (-70 to 0, e.g. -16 or -23).")
    var targetLufs: Double?

    @Option(name: .long, parsing: .unconditional, help: "With --target-lufs: the highest true peak allowed, in dBTP (-30 to 0).")
    var truePeakCeiling: Double = -1

    @Flag(name: .long, help: "Print the summary, with the loudness figures, as one JSON object on stdout.")
    var json = false

    func makeOutput(preferred: AudioFormat?) throws -> AudioOutput {
        let format = AudioFormat(
            sampleRate: sampleRate ?? preferred?.sampleRate ?? 48_000, channels: channels ?? preferred?.channels ?? 2)
        let container: AudioFileFormat? = try self.format.map {
            guard let container = AudioFileFormat(fileExtension: $0) else {
                throw ValidationError("unknown --format \($0) (known: wav, flac, mp3, m4a, aac, opus)")
            }
            return container
        }
        let rule: ClippingRule
        switch clipping {
        case "limiter": rule = .limiter()
        case "clip": rule = .hardClip
        case "fail": rule = .fail
        default: throw ValidationError("unknown --clipping \(clipping) (limiter, clip, fail)")
        }
        let file = AudioOutputFile(
            path: URL(fileURLWithPath: output).path, format: container, bitRate: try bitrate.map { text throws(ScaleKitError) in try AudioOutputFile.parseBitRate(text, option: "--bitrate") },
            sampleEncoding: float ? .float32 : .int16)
        let target = try targetLufs.map { lufs throws(ScaleKitError) in
            let target = LoudnessTarget(integratedLUFS: lufs, truePeakCeilingDBTP: truePeakCeiling)
            try target.validate()
            return target
        }
        return AudioOutput(format: format, file: file, clipping: rule, maximumDuration: maxDuration, measuresLoudness: json, loudnessTarget: target)
    }
}

/// Runs `body`, turning a ``ScaleKitError`` into a message on stderr and the documented exit code.
func reportingAudioErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ScaleKitError {
        Console.error("error: \(error.code): \(error.message)")
        throw ExitStatus.forError(error)
    }
}

/// Runs a render with a progress bar on stderr (only when stderr is a
/// terminal), Ctrl-C cancelling it (which removes the partial file), and a
/// summary on stdout.
func runAudioCommand(
    quiet: Bool, json: Bool = false, _ render: @escaping @Sendable (@escaping AudioProgressHandler) async throws -> AudioMixSummary
) async throws {
    FFmpegLogLevel.error.apply()
    FFmpegAllocationLimit.audio.apply()
    let bar = ProgressBar(enabled: !quiet && isatty(STDERR_FILENO) == 1)
    let started = ContinuousClock.now
    let task = Task { try await render { bar.update($0) } }
    signal(SIGINT, SIG_IGN)
    let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    interrupt.setEventHandler { task.cancel() }
    interrupt.resume()
    defer { interrupt.cancel() }
    let summary: AudioMixSummary
    do {
        summary = try await task.value
    } catch let error as ScaleKitError {
        bar.finish()
        Console.error("error: \(error.code): \(error.message)")
        throw ExitStatus.forError(error)
    } catch {
        bar.finish()
        throw error
    }
    bar.finish()
    let elapsed = started.duration(to: .now)
    let seconds = elapsed.timeInterval
    if json {
        print(audioSummaryJSON(summary, elapsedSeconds: seconds))
        return
    }
    var lines = [
        "wrote \(summary.file ?? "-")",
        String(format: "  %.3f s, %d frames, %@", summary.duration, summary.frames, summary.format.description),
        String(format: "  peak %.2f dBFS%@", summary.peakDBFS, summary.clippingRuleEngaged ? " (clipping rule engaged on \(summary.framesAdjustedForClipping) frames)" : ""),
        String(format: "  rendered in %.2f s (%.0f× real time)", seconds, summary.duration / max(seconds, 1e-9)),
    ]
    if let loudness = summary.loudness { lines.append("  " + loudnessLine(loudness, normalisation: summary.normalisation)) }
    if summary.clipsPastEnd > 0 { lines.append("  \(summary.clipsPastEnd) clip(s) start after the background ends and were not heard") }
    print(lines.joined(separator: "\n"))
}

/// A one-line progress bar redrawn on stderr at most ten times a second.
final class ProgressBar: Sendable {
    private let enabled: Bool
    private let lastDraw = SanitizerVisibleMutex<ContinuousClock.Instant?>(nil)

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ progress: AudioProgress) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let due = lastDraw.withLock { last -> Bool in
            if let last, last.duration(to: now) < .milliseconds(100) { return false }
            last = now
            return true
        }
        guard due else { return }
        let width = 30
        let filled = Int((progress.fractionCompleted * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let total = progress.secondsTotal.map { String(format: " / %.1f", $0) } ?? ""
        let line = String(format: "\r[%@] %3.0f%%  %.1f%@ s", bar, progress.fractionCompleted * 100, progress.secondsDone, total)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
