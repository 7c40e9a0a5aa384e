import Foundation
import ScaleKit
import Testing

/// The BS.1770 meter on synthetic signals whose loudness is known (values
/// checked against ffmpeg's `ebur128` filter; the ffmpeg comparisons on real
/// clips are in ScaleKitAudioTests' `LoudnessTests`).
@Suite struct LoudnessMeterTests {
    /// `seconds` of `amplitude · sin(2π f t + phase)` in every channel, interleaved.
    static func tone(_ frequency: Double, amplitude: Double, seconds: Double, rate: Int, channels: Int, phase: Double = 0) -> [Float] {
        let frames = Int(seconds * Double(rate))
        var samples = [Float](repeating: 0, count: frames * channels)
        for i in 0..<frames {
            let value = Float(amplitude * sin(2 * Double.pi * frequency * Double(i) / Double(rate) + phase))
            for c in 0..<channels { samples[i * channels + c] = value }
        }
        return samples
    }

    static func measure(_ samples: [Float], rate: Int, channels: Int, chunk: Int = 4_096) throws -> LoudnessMeasurement {
        var meter = try LoudnessMeter(sampleRate: rate, channels: channels)
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + chunk * channels)
            meter.add(Array(samples[start..<end]))
            start = end
        }
        return meter.measurement
    }

    /// A 1 kHz sine at −20 dBFS: −20.0 LUFS in stereo, −23.0 in mono (ffmpeg: the same), at every rate.
    @Test(arguments: [(48_000, 2, -20.0), (48_000, 1, -23.0), (44_100, 2, -20.0), (22_050, 1, -23.0)])
    func sineHasItsKnownLoudness(_ rate: Int, _ channels: Int, _ expected: Double) throws {
        let result = try Self.measure(Self.tone(1_000, amplitude: 0.1, seconds: 10, rate: rate, channels: channels), rate: rate, channels: channels)
        let integrated = try #require(result.integratedLUFS)
        #expect(abs(integrated - expected) < 0.05, "\(rate) Hz × \(channels): \(integrated) LUFS")
        #expect(abs(result.truePeakDBTP - -20) < 0.05, "true peak \(result.truePeakDBTP)")
        let range = try #require(result.loudnessRangeLU)
        #expect(range < 0.05)
    }

    /// Feeding the same audio in chunks of any size measures the same.
    @Test func chunkSizeDoesNotMatter() throws {
        let samples = Self.tone(440, amplitude: 0.3, seconds: 4.05, rate: 44_100, channels: 2)
        let whole = try Self.measure(samples, rate: 44_100, channels: 2, chunk: 1 << 20)
        for chunk in [1, 7, 4_410, 10_000] {
            let parts = try Self.measure(samples, rate: 44_100, channels: 2, chunk: chunk)
            #expect(abs((parts.integratedLUFS ?? 0) - (whole.integratedLUFS ?? 1)) < 1e-9)
            #expect(parts.truePeak == whole.truePeak)
        }
    }

    /// Silence, and audio below −70 LUFS, has no integrated loudness; so has audio shorter than one 400 ms block.
    @Test func silenceAndShortAudioHaveNoLoudness() throws {
        let silence = try Self.measure([Float](repeating: 0, count: 96_000), rate: 48_000, channels: 2)
        #expect(silence.integratedLUFS == nil && silence.loudnessRangeLU == nil)
        #expect(silence.truePeak == 0 && silence.truePeakDBTP == -.infinity)
        let whisper = try Self.measure(Self.tone(1_000, amplitude: 0.000_1, seconds: 2, rate: 48_000, channels: 1), rate: 48_000, channels: 1)
        #expect(whisper.integratedLUFS == nil)  // −83 LUFS
        let short = try Self.measure(Self.tone(1_000, amplitude: 0.5, seconds: 0.35, rate: 48_000, channels: 1), rate: 48_000, channels: 1)
        #expect(short.integratedLUFS == nil && short.truePeak > 0.49)
    }

    /// The relative gate drops blocks more than 10 LU below the ungated mean:
    /// 10 s at −20 LUFS then 10 s at −40 LUFS measures about −20, not the energy mean (−23).
    @Test func relativeGateDropsQuietParts() throws {
        let loud = Self.tone(1_000, amplitude: 0.1, seconds: 10, rate: 48_000, channels: 2)
        let quiet = Self.tone(1_000, amplitude: 0.01, seconds: 10, rate: 48_000, channels: 2)
        let result = try Self.measure(loud + quiet, rate: 48_000, channels: 2)
        let integrated = try #require(result.integratedLUFS)
        #expect(abs(integrated - -20) < 0.1, "\(integrated)")
        let range = try #require(result.loudnessRangeLU)
        #expect(abs(range - 20) < 0.1, "LRA \(range)")
    }

    /// A sine at a quarter of the rate, sampled 45° off its crests, has samples
    /// 3 dB under its true peak; oversampling finds the crest.
    @Test func truePeakFindsInterSamplePeaks() throws {
        let samples = Self.tone(12_000, amplitude: 0.5, seconds: 1, rate: 48_000, channels: 1, phase: Double.pi / 4)
        let samplePeak = samples.map(abs).max()!
        #expect(abs(20 * log10(Double(samplePeak)) - -9.03) < 0.01)
        let result = try Self.measure(samples, rate: 48_000, channels: 1)
        #expect(result.truePeakDBTP > -6.3 && result.truePeakDBTP < -5.0, "\(result.truePeakDBTP) dBTP")
    }

    /// Surround channels weigh 1.41, the LFE nothing; layouts without defaults need weights.
    @Test func channelWeights() throws {
        #expect(LoudnessMeter.defaultChannelWeights(channels: 6) == [1, 1, 1, 0, 1.41, 1.41])
        #expect(throws: ScaleKitError.self) { _ = try LoudnessMeter(sampleRate: 48_000, channels: 8) }
        #expect(throws: ScaleKitError.self) { _ = try LoudnessMeter(sampleRate: 48_000, channels: 2, channelWeights: [1]) }
        #expect(throws: ScaleKitError.self) { _ = try LoudnessMeter(sampleRate: 0, channels: 2) }
        var lfeOnly = [Float](repeating: 0, count: 48_000 * 6)
        for i in 0..<48_000 { lfeOnly[i * 6 + 3] = Float(0.5 * sin(2 * Double.pi * 50 * Double(i) / 48_000)) }
        var meter = try LoudnessMeter(sampleRate: 48_000, channels: 6)
        meter.add(lfeOnly)
        #expect(meter.measurement.integratedLUFS == nil && meter.measurement.truePeak > 0.49)
    }

    /// NaN and infinity count as silence instead of poisoning the rest.
    @Test func nonFiniteSamplesAreSilence() throws {
        var samples = Self.tone(1_000, amplitude: 0.1, seconds: 5, rate: 48_000, channels: 1)
        samples[100] = .nan
        samples[200] = .infinity
        let result = try Self.measure(samples, rate: 48_000, channels: 1)
        #expect(abs((result.integratedLUFS ?? 0) - -23) < 0.05 && result.truePeak.isFinite)
    }

    @Test func normalisationPlanHonoursTheCeilingAndLeavesSilenceAlone() {
        let measured = LoudnessMeasurement(integratedLUFS: -20, loudnessRangeLU: nil, truePeak: 0.5)  // −6.02 dBTP
        let plain = LoudnessNormalisation.plan(target: LoudnessTarget(integratedLUFS: -23), before: measured)
        #expect(abs(plain.gainDB - -3) < 1e-9 && !plain.limitedByTruePeak)
        let loud = LoudnessNormalisation.plan(target: LoudnessTarget(integratedLUFS: -10, truePeakCeilingDBTP: -1), before: measured)
        #expect(loud.limitedByTruePeak && abs(loud.gainDB - (-1 + 6.0206)) < 1e-3)
        let silent = LoudnessNormalisation.plan(
            target: LoudnessTarget(integratedLUFS: -16), before: LoudnessMeasurement(integratedLUFS: nil, loudnessRangeLU: nil, truePeak: 0))
        #expect(silent.gainDB == 0 && !silent.limitedByTruePeak)
    }

    @Test func targetsOutOfRangeAreInvalidArguments() {
        for target in [LoudnessTarget(integratedLUFS: 5), LoudnessTarget(integratedLUFS: -71), LoudnessTarget(integratedLUFS: .nan),
                       LoudnessTarget(integratedLUFS: -16, truePeakCeilingDBTP: 1), LoudnessTarget(integratedLUFS: -16, truePeakCeilingDBTP: .infinity)] {
            let error = #expect(throws: ScaleKitError.self) { try target.validate() }
            #expect(error?.code == .invalidArgument)
        }
    }
}
