import Dispatch
import Foundation
import FuzzSupport
import ScaleKit
import ScaleKitAudio

/// The input's first byte picks the file name (bit 0: `input.wav`, opened
/// with FFmpeg's WAV demuxer and also read by the pure-Swift WAV reader; or
/// `input.bin`, which FFmpeg probes), the rest is the file. Decoding it
/// through the mixers must succeed or throw `audioDecoding`; a decode that
/// runs past 10 s of output is cancelled and must throw `cancelled`.
/// Anything else (another error, a crash, a leak, an allocation over the
/// fuzzer's 2 GB limit) is a finding.
// What a service decoding uploads should do (Docs/Audio.md): without it a
// few bytes declaring a huge chunk make FFmpeg allocate gigabytes.
FFmpegLogLevel.quiet.apply()
FFmpegAllocationLimit.audio.apply()
runFuzzer(fuzzOne)

private let directory: String = {
    let path = NSTemporaryDirectory() + "scalekit-fuzz-audio-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let selector = input.first else { return 0 }
    let path = directory + (selector & 1 == 0 ? "/input.wav" : "/input.bin")
    guard FileManager.default.createFile(atPath: path, contents: Data(input.dropFirst())) else { fatalError("cannot write \(path)") }
    _ = runBlocking(Decode(path, pcm: false))
    if path.hasSuffix(".wav") { _ = runBlocking(Decode(path, pcm: true)) }
    return 0
}

/// One decode, in a task (see `runBlocking`).
final class Decode: BlockingJob, @unchecked Sendable {
    let path: String
    let pcm: Bool

    init(_ path: String, pcm: Bool) {
        self.path = path
        self.pcm = pcm
    }

    override func run() async {
        let mixer: any AudioMixing = pcm ? PCMAudioMixer() : FFmpegAudioMixer()
        await decode(path, with: mixer)
    }
}

private func decode(_ path: String, with mixer: any AudioMixing) async {
    let output = AudioOutput.memory(format: AudioFormat(sampleRate: 8_000, channels: 1))
    do {
        _ = try await mixer.join(AudioJoin(segments: [.file(path)]), into: output) { progress in
            // Progress is reported on the mixing task: cancel it there.
            if progress.secondsDone > 10 { withUnsafeCurrentTask { $0?.cancel() } }
        }
    } catch let error as ScaleKitError {
        precondition(error.code == .audioDecoding || error.code == .cancelled, "\(type(of: mixer)): unexpected error \(error)")
        precondition(
            error.code == .cancelled || error.message.contains("input."), "\(type(of: mixer)): the error does not name the file: \(error)")
    } catch {
        preconditionFailure("\(type(of: mixer)): not a ScaleKitError: \(error)")
    }
}
