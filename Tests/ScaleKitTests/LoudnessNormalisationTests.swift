import Foundation
import ScaleKit
import Synchronization
import ScaleKitTestSupport
import Testing

/// Normalisation through the pure-Swift mixer: the two passes, their
/// progress, and cancellation removing the intermediate as well as the output.
@Suite struct LoudnessNormalisationTests {
    /// A 1 kHz sine at −20 dBFS in stereo: −20.0 LUFS.
    static let tone = loudnessReferenceTone()

    @Test func normalisesInTwoPassesAndLeavesOnlyTheOutput() async throws {
        let directory = try makeTemporaryDirectory("pcm-loudness")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/out.wav"
        let output = AudioOutput(
            file: AudioOutputFile(path: out, sampleEncoding: .float32), capturesPCM: true, loudnessTarget: LoudnessTarget(integratedLUFS: -23))
        let fractions = SanitizerVisibleMutex<[Double]>([])
        let summary = try await PCMAudioMixer().join(AudioJoin(segments: [.pcm(Self.tone, name: "tone")]), into: output) { progress in
            fractions.withLock { $0.append(progress.fractionCompleted) }
        }
        let plan = try #require(summary.normalisation)
        #expect(abs(plan.gainDB - -3) < 0.05 && !plan.limitedByTruePeak)
        #expect(abs(try #require(summary.loudness?.integratedLUFS) - -23) < 0.05)
        #expect(abs(try #require(plan.before.integratedLUFS) - -20) < 0.05)
        // The captured and written samples are the gained ones.
        let expectedPeak = 0.1 * pow(10, plan.gainDB / 20)
        let captured = try #require(summary.pcm)
        #expect(abs(Double(captured.samples.map(abs).max() ?? 0) - expectedPeak) < 1e-4)
        let written = try WAVFile.read(path: out)
        #expect(written.samples == captured.samples && summary.frames == Self.tone.frames)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.wav"])
        // Progress: the first pass fills the first half, the gain pass the second, never backwards.
        let reported = fractions.withLock { $0 }
        #expect(reported.contains { $0 > 0 && $0 <= 0.5 } && reported.contains { $0 > 0.5 } && reported.last == 1)
        #expect(zip(reported, reported.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func cancellingDuringTheGainPassRemovesEveryFile() async throws {
        let directory = try makeTemporaryDirectory("pcm-loudness-cancel")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var output = AudioOutput.file(directory + "/out.wav")
        output.loudnessTarget = LoudnessTarget(integratedLUFS: -16)
        // The render runs in a task of its own: the handler runs on it and
        // cancels it once the gain pass has begun. (Cancelling the test's own
        // task would end the test as cancelled, its expectations unjudged.)
        let tone = Self.tone
        let render = Task {
            try await PCMAudioMixer().join(AudioJoin(segments: [.pcm(tone, name: "tone")]), into: output) { progress in
                if progress.fractionCompleted > 0.5 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        let error = await #expect(throws: ScaleKitError.self) { try await render.value }
        #expect(error?.code == .cancelled)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func measuringAloneChangesNothing() async throws {
        let plain = try await PCMAudioMixer().join(AudioJoin(segments: [.pcm(Self.tone, name: "tone")]), into: .memory())
        #expect(plain.loudness == nil && plain.normalisation == nil)
        let output = AudioOutput(capturesPCM: true, measuresLoudness: true)
        let measured = try await PCMAudioMixer().join(AudioJoin(segments: [.pcm(Self.tone, name: "tone")]), into: output)
        #expect(measured.pcm?.samples == plain.pcm?.samples && measured.normalisation == nil)
        #expect(abs(try #require(measured.loudness?.integratedLUFS) - -20) < 0.05)
    }
}
