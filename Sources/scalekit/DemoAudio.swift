import Foundation
import ScaleKit
import ScaleKitAudio

extension DemoFlow {
    /// Joins and mixes a few synthesized segments with FFmpeg, in memory.
    func audioStep() async throws {
        say("\n4. Audio: join three spoken segments, then mix them over a background (FFmpeg, in memory):")
        let speech = AudioFormat(sampleRate: 22_050, channels: 1)
        let segments = [220.0, 330.0, 440.0].enumerated().map { index, frequency in
            AudioSource.pcm(tone(frequency, seconds: 0.5 + 0.25 * Double(index), format: speech), name: "segment \(index)")
        }
        let mixer = FFmpegAudioMixer()
        let joined = try await mixer.join(AudioJoin(segments: segments, gap: 0.2), into: .memory(format: .stereo48k))
        say(String(format: "   joined %d segments: %.3f s, %d frames at %@", segments.count, joined.duration, joined.frames, joined.format.description))
        let background = BackgroundTrack(
            source: .pcm(tone(110, seconds: 3, format: AudioFormat(sampleRate: 44_100, channels: 2)), name: "background"), gainDB: -12,
            ducking: Ducking(depthDB: 9, rampSeconds: 0.05))
        let clips = segments.enumerated().map { TimelineClip(source: $0.element, start: 0.4 + Double($0.offset), gainDB: -3) }
        let mixed = try await mixer.mix(AudioTimeline(clips: clips, background: background), into: .memory(format: .stereo48k))
        say(String(format: "   mixed %d clips over a 3 s background: %.3f s, peak %.1f dBFS%@", clips.count, mixed.duration, mixed.peakDBFS,
                   mixed.clippingRuleEngaged ? " (limited)" : ""))
    }

    private func tone(_ frequency: Double, seconds: Double, format: AudioFormat) -> PCMBuffer {
        let frames = Int(seconds * Double(format.sampleRate))
        var samples = [Float](repeating: 0, count: frames * format.channels)
        for frame in 0..<frames {
            let value = Float(0.3 * sin(2 * Double.pi * frequency * Double(frame) / Double(format.sampleRate)))
            for channel in 0..<format.channels { samples[frame * format.channels + channel] = value }
        }
        return PCMBuffer(format: format, samples: samples)
    }
}
