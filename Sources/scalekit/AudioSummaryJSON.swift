import Foundation
import ScaleKit

/// `--json`: the summary as one JSON object on one line. Figures that are
/// −∞ or undefined (the loudness of silence, the peak of silence) are `null`.
func audioSummaryJSON(_ summary: AudioMixSummary, elapsedSeconds: Double) -> String {
    var object: [String: Any] = [
        "file": summary.file.map { $0 as Any } ?? NSNull(),
        "sample_rate": summary.format.sampleRate,
        "channels": summary.format.channels,
        "frames": summary.frames,
        "duration_seconds": summary.duration,
        "peak_dbfs": finite(summary.peakDBFS),
        "clipping_rule_engaged": summary.clippingRuleEngaged,
        "frames_adjusted_for_clipping": summary.framesAdjustedForClipping,
        "clips_past_end": summary.clipsPastEnd,
        "elapsed_seconds": elapsedSeconds,
        "loudness": summary.loudness.map { loudnessObject($0) as Any } ?? NSNull(),
        "normalisation": NSNull(),
    ]
    if let plan = summary.normalisation {
        object["normalisation"] = [
            "target_lufs": plan.target.integratedLUFS,
            "true_peak_ceiling_dbtp": plan.target.truePeakCeilingDBTP,
            "gain_db": plan.gainDB,
            "limited_by_true_peak": plan.limitedByTruePeak,
            "before": loudnessObject(plan.before),
        ] as [String: Any]
    }
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

private func loudnessObject(_ loudness: LoudnessMeasurement) -> [String: Any] {
    [
        "integrated_lufs": loudness.integratedLUFS.map { $0 as Any } ?? NSNull(),
        "loudness_range_lu": loudness.loudnessRangeLU.map { $0 as Any } ?? NSNull(),
        "true_peak_dbtp": finite(loudness.truePeakDBTP),
    ]
}

private func finite(_ value: Double) -> Any { value.isFinite ? value : NSNull() }

/// The text summary's loudness line.
func loudnessLine(_ loudness: LoudnessMeasurement, normalisation: LoudnessNormalisation?) -> String {
    let integrated = loudness.integratedLUFS.map { String(format: "%.1f LUFS", $0) } ?? "silent (below -70 LUFS)"
    let range = loudness.loudnessRangeLU.map { String(format: ", range %.1f LU", $0) } ?? ""
    var line = "loudness \(integrated)\(range), true peak " + String(format: "%.1f dBTP", loudness.truePeakDBTP)
    if let plan = normalisation {
        let before = plan.before.integratedLUFS.map { String(format: "%.1f LUFS", $0) } ?? "silence"
        line += String(format: " (normalised from %@ by %+.2f dB", before, plan.gainDB)
        line += plan.limitedByTruePeak ? String(format: ", limited by the %.1f dBTP ceiling)", plan.target.truePeakCeilingDBTP) : ")"
    }
    return line
}
