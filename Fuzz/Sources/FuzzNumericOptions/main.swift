import FuzzSupport
import ScaleKit

/// Text as the tool's numeric options receive it (`--bitrate`, `--ttl`,
/// `--lease`, `--max-duration`, a clip start or gain): parsed as the tool
/// parses it and checked by the library, it must be accepted or refused
/// with invalidArgument, never trap.
runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    func expectInvalidArgument(_ body: () throws -> Void) {
        do { try body() } catch let error as ScaleKitError {
            precondition(error.code == .invalidArgument, "unexpected error \(error)")
        } catch {
            preconditionFailure("untyped error \(error)")
        }
    }
    expectInvalidArgument {
        let rate = try AudioOutputFile.parseBitRate(text)
        precondition(AudioLimits.bitRate.contains(rate), "bit rate \(rate) out of range")
    }
    if let seconds = Int(text) {  // --ttl and --lease are whole seconds
        expectInvalidArgument { _ = try StatusTrackerConfiguration().resolveTTL(.seconds(seconds)) }
        expectInvalidArgument { try ClaimRules.validateLease(.seconds(seconds)) }
    }
    if let value = Double(text) {  // --gap, --duck-db, --duck-ramp, clip starts and gains are Doubles
        expectInvalidArgument { try render(value) }
    }
    return 0
}

/// Mixes one tiny clip with `value` as its start, gain and ducking, and joins
/// two with `value` as the gap, into at most 10 ms of output (so no valid
/// value makes the fuzzer render for long); waits on this plain thread.
func render(_ value: Double) throws {
    if let error = runBlocking(Render(value)).error { throw error }
}

final class Render: BlockingJob, @unchecked Sendable {
    let value: Double
    var error: (any Error)?

    init(_ value: Double) { self.value = value }

    override func run() async {
        do { try await renderOnce() } catch { self.error = error }
    }

    private func renderOnce() async throws {
        let format = AudioFormat(sampleRate: 1_000, channels: 1)
        let clip = AudioSource.pcm(PCMBuffer(format: format, samples: [0.5, -0.5]), name: "clip")
        var output = AudioOutput.memory(format: format)
        output.maximumDuration = 0.01
        let timeline = AudioTimeline(
            clips: [TimelineClip(source: clip, start: value, gainDB: value)],
            background: BackgroundTrack(source: clip, gainDB: value, ducking: Ducking(depthDB: value, rampSeconds: value)))
        let join = AudioJoin(segments: [clip, clip], gap: value)
        _ = try await PCMAudioMixer().mix(timeline, into: output)
        _ = try await PCMAudioMixer().join(join, into: output)
    }
}
