import Foundation
import ScaleKit

/// The dubbing pipeline's last step: mixes synthesized speech segments over
/// a background track into one file with an ``AudioMixing`` backend (FFmpeg
/// in the service).
///
/// The segments stand in for text-to-speech output: short mono tones at
/// 24 kHz, placed on a timeline like dubbed lines, so the mixer resamples,
/// upmixes, ducks the background under them and encodes, as it would for
/// real speech. Memory stays bounded by the mixer's window, whatever the
/// number of segments.
struct DubbedTrack: Sendable {
    let mixer: any AudioMixing
    /// Where the mixed files go (`VIDEO_SERVICE_OUTPUT_DIR`).
    let directory: String
    /// Segments per video (the seed's videos had hundreds).
    var segments = 8

    /// Mixes the track for `videoID` into `<directory>/<videoID>.m4a`.
    /// - Throws: ``ScaleKitError`` from the mixer (`audioEncoding` when the
    ///   file cannot be written); no partial file is left.
    func render(videoID: String) async throws -> AudioMixSummary {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let speechFormat = AudioFormat(sampleRate: 24_000, channels: 1)
        var clips: [TimelineClip] = []
        var start = 0.2
        for index in 0..<segments {
            let seconds = 0.3 + Double(index % 4) * 0.05
            let tone = Self.tone(hertz: 180 + Double(index % 7) * 35, seconds: seconds, amplitude: 0.35, format: speechFormat)
            clips.append(TimelineClip(source: .pcm(tone, name: "\(videoID) segment \(index + 1)"), start: start))
            start += seconds + 0.1
        }
        let backgroundFormat = AudioFormat(sampleRate: 48_000, channels: 2)
        let background = BackgroundTrack(
            source: .pcm(Self.tone(hertz: 110, seconds: start + 0.3, amplitude: 0.2, format: backgroundFormat), name: "\(videoID) background"),
            gainDB: -6, ducking: Ducking(depthDB: 12, rampSeconds: 0.05))
        let timeline = AudioTimeline(clips: clips, background: background)
        return try await mixer.mix(timeline, into: .file("\(directory)/\(videoID).m4a"))
    }

    /// A sine tone with 10 ms fades, in `format`'s channels.
    static func tone(hertz: Double, seconds: Double, amplitude: Double, format: AudioFormat) -> PCMBuffer {
        let frames = Int(seconds * Double(format.sampleRate))
        let fade = max(1, format.sampleRate / 100)
        var samples = [Float](repeating: 0, count: frames * format.channels)
        for frame in 0..<frames {
            let envelope = min(1, Double(min(frame, frames - 1 - frame)) / Double(fade))
            let value = Float(amplitude * envelope * sin(2 * .pi * hertz * Double(frame) / Double(format.sampleRate)))
            for channel in 0..<format.channels { samples[frame * format.channels + channel] = value }
        }
        return PCMBuffer(format: format, samples: samples)
    }
}
