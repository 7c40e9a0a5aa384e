import Foundation
public import ScaleKit

/// Three seconds of a 1 kHz sine at −20 dBFS in both channels at 48 kHz:
/// −20.0 LUFS, the loudness tests' reference signal.
public func loudnessReferenceTone() -> PCMBuffer {
    let frames = 3 * 48_000
    var samples = [Float](repeating: 0, count: frames * 2)
    for i in 0..<frames {
        let value = Float(0.1 * sin(2 * Double.pi * 1_000 * Double(i) / 48_000))
        samples[2 * i] = value
        samples[2 * i + 1] = value
    }
    return PCMBuffer(format: .stereo48k, samples: samples)
}
