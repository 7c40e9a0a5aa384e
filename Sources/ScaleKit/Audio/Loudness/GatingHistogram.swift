import Foundation

/// Gating blocks' loudness kept as a histogram instead of a list, as
/// libebur128 and ffmpeg do: 0.01 LU bins from the absolute gate (−70 LUFS)
/// to +10 LUFS, so memory is fixed (8 001 bins) however long the audio.
///
/// Each bin keeps the exact sum of its blocks' energies, so the mean over
/// the gated blocks is exact; only the relative gate's position is rounded
/// to the bin (0.01 LU), like ffmpeg's.
struct GatingHistogram: Sendable {
    static let absoluteGateLUFS = -70.0
    static let ceilingLUFS = 10.0
    static let binsPerLU = 100.0
    static let binCount = Int((ceilingLUFS - absoluteGateLUFS) * binsPerLU) + 1

    private var counts = [Int](repeating: 0, count: binCount)
    private var energies = [Double](repeating: 0, count: binCount)
    private var keptBlocks = 0
    private var keptEnergy = 0.0

    /// Adds a block of mean-square `power`; blocks under the absolute gate (and NaN) are dropped.
    mutating func add(power: Double) {
        let loudness = loudnessOf(power: power)
        guard loudness >= Self.absoluteGateLUFS else { return }
        let bin = Self.bin(of: loudness)
        counts[bin] += 1
        energies[bin] += power
        keptBlocks += 1
        keptEnergy += power
    }

    /// The first bin at or above `relativeGateLU` (negative) below the mean of the blocks kept by the absolute gate.
    private func relativeGateBin(_ relativeGateLU: Double) -> Int? {
        guard keptBlocks > 0 else { return nil }
        let mean = keptEnergy / Double(keptBlocks)
        return Self.bin(of: loudnessOf(power: mean) + relativeGateLU)
    }

    /// The loudness of the mean energy of the blocks above both gates, or nil when none passes the absolute gate.
    func gatedMeanLoudness(relativeGateLU: Double) -> Double? {
        guard let first = relativeGateBin(relativeGateLU) else { return nil }
        var count = 0
        var energy = 0.0
        for bin in first..<Self.binCount {
            count += counts[bin]
            energy += energies[bin]
        }
        return count > 0 ? loudnessOf(power: energy / Double(count)) : nil
    }

    /// EBU Tech 3342's loudness range: the spread between the 10th and the
    /// 95th percentile of the blocks above both gates (ffmpeg's rounding of the percentiles).
    func loudnessRange(relativeGateLU: Double) -> Double? {
        guard let first = relativeGateBin(relativeGateLU) else { return nil }
        let total = counts[first...].reduce(0, +)
        guard total > 0 else { return nil }
        let lowRank = Int(0.10 * Double(total) + 0.5)
        let highRank = Int(0.95 * Double(total) + 0.5)
        var seen = 0
        var low = Self.loudness(ofBin: first)
        for bin in first..<Self.binCount {
            seen += counts[bin]
            if seen >= lowRank {
                low = Self.loudness(ofBin: bin)
                break
            }
        }
        var remaining = total
        var high = low
        for bin in stride(from: Self.binCount - 1, through: first, by: -1) {
            remaining -= min(remaining, counts[bin])
            if remaining < highRank {
                high = Self.loudness(ofBin: bin)
                break
            }
        }
        return max(0, high - low)
    }

    private static func bin(of loudness: Double) -> Int {
        let position = ((loudness - absoluteGateLUFS) * binsPerLU).rounded(.toNearestOrEven)
        return Int(min(max(position, 0), Double(binCount - 1)))
    }

    private static func loudness(ofBin bin: Int) -> Double { Double(bin) / binsPerLU + absoluteGateLUFS }
}

/// BS.1770's loudness of a K-weighted, channel-weighted mean square: −0.691 + 10·log10(power).
func loudnessOf(power: Double) -> Double { -0.691 + 10 * log10(power) }
