import Foundation
import ScaleKit
@testable import ScaleKitAudio
import ScaleKitTestSupport
import Testing

@Suite struct FFmpegResamplerPoolTests {
    /// Clips that share an input format share resampler contexts, reset
    /// between clips: the mix is bit-identical to one with a fresh context per clip.
    @Test func pooledResamplersRenderBitIdenticallyToFreshOnes() async throws {
        let directory = try makeTemporaryDirectory("ffmpeg-pool")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var clips: [TimelineClip] = []
        for index in 0..<6 {
            let rate = index % 3 == 0 ? 44_100 : 22_050
            let path = directory + "/clip\(index).wav"
            try WAVFile.write(sine(frequency: 200 + 90 * Double(index), amplitude: 0.3, seconds: 0.4 + 0.05 * Double(index), rate: rate), to: path)
            // Clip 4 overlaps clip 3, so two contexts of one format are live at once.
            let start = index == 4 ? 1.7 : 0.6 * Double(index)
            clips.append(TimelineClip(source: .file(path), start: start, gainDB: -2 * Double(index)))
        }
        let timeline = AudioTimeline(clips: clips)
        let (pooled, fresh, made, reused) = try await offThePool { () throws -> ([Float], [Float], Int, Int) in
            let pool = FFmpegResamplerPool()
            let pooled = try renderDirectly(timeline, pool: pool)
            return (pooled, try renderDirectly(timeline, pool: nil), pool.made, pool.reused)
        }
        #expect(reused > 0, "made \(made), reused \(reused)")
        #expect(!pooled.isEmpty)
        #expect(pooled == fresh)
    }
}

/// Runs a timeline through the renderer on the calling thread, with or without a resampler pool.
private func renderDirectly(_ timeline: AudioTimeline, pool: FFmpegResamplerPool?) throws -> [Float] {
    let output = AudioOutput.memory(format: .stereo48k)
    let job = try TimelineRenderJob(timeline: timeline, output: RenderOutput(output: output, sink: nil)) {
        try openFFmpegSource($0, request: $1, output: output.format, pool: pool)
    }
    while try job.renderNextWindow() {}
    return job.summary().pcm?.samples ?? []
}

