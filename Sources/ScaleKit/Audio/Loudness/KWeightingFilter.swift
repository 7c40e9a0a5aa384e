import Foundation

/// The K-weighting of ITU-R BS.1770-4: a high-shelf pre-filter (the head's
/// acoustic effect) followed by the RLB high-pass, as two biquads per channel.
///
/// The coefficients are derived for the actual sample rate from the analogue
/// prototypes' parameters, exactly as libebur128 and ffmpeg's `ebur128`
/// filter do, so 22.05 kHz and 44.1 kHz audio are weighted like 48 kHz audio
/// (the standard's tabulated 48 kHz coefficients would be wrong elsewhere).
struct KWeightingFilter: Sendable {
    /// One biquad's coefficients, a0 normalised to 1.
    struct Coefficients: Sendable {
        var b0, b1, b2, a1, a2: Double
    }

    let shelf: Coefficients
    let highPass: Coefficients
    /// Direct form II transposed state per channel: two for each biquad.
    private var state: [Double]
    private let channels: Int

    init(sampleRate: Int, channels: Int) {
        let rate = Double(sampleRate)
        // High shelf, +4 dB above about 1.7 kHz.
        var f0 = 1681.974450955533
        let gain = 3.999843853973347
        var q = 0.7071752369554196
        var k = tan(Double.pi * f0 / rate)
        let vh = pow(10, gain / 20)
        let vb = pow(vh, 0.4996667741545416)
        var a0 = 1 + k / q + k * k
        shelf = Coefficients(
            b0: (vh + vb * k / q + k * k) / a0, b1: 2 * (k * k - vh) / a0, b2: (vh - vb * k / q + k * k) / a0,
            a1: 2 * (k * k - 1) / a0, a2: (1 - k / q + k * k) / a0)
        // RLB high-pass at about 38 Hz; its numerator stays 1, −2, 1 as in the reference implementations.
        f0 = 38.13547087602444
        q = 0.5003270373238773
        k = tan(Double.pi * f0 / rate)
        a0 = 1 + k / q + k * k
        highPass = Coefficients(b0: 1, b1: -2, b2: 1, a1: 2 * (k * k - 1) / a0, a2: (1 - k / q + k * k) / a0)
        self.channels = channels
        state = [Double](repeating: 0, count: channels * 4)
    }

    /// Filters channel `channel` of `frames` interleaved frames and returns the sum of the squared output.
    ///
    /// A non-finite input sample counts as silence, so one NaN cannot poison
    /// the filter's state and every later block.
    mutating func sumOfSquares(_ samples: UnsafePointer<Float>, frames: Int, channel: Int) -> Double {
        let s = shelf
        let h = highPass
        let base = channel * 4
        var z1 = state[base], z2 = state[base + 1], w1 = state[base + 2], w2 = state[base + 3]
        var sum = 0.0
        var index = channel
        for _ in 0..<frames {
            let raw = samples[index]
            index += channels
            let x = raw.isFinite ? Double(raw) : 0
            let y = s.b0 * x + z1
            z1 = s.b1 * x - s.a1 * y + z2
            z2 = s.b2 * x - s.a2 * y
            let out = h.b0 * y + w1
            w1 = h.b1 * y - h.a1 * out + w2
            w2 = h.b2 * y - h.a2 * out
            sum += out * out
        }
        state[base] = z1
        state[base + 1] = z2
        state[base + 2] = w1
        state[base + 3] = w2
        return sum
    }
}
