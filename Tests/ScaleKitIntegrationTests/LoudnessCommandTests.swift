import Foundation
import ScaleKit
import ScaleKitTestSupport
import Testing

/// `scalekit mix`/`join` with `--target-lufs`, `--true-peak-ceiling` and `--json`, run as processes.
@Suite struct LoudnessCommandTests {
    /// The reference tone (−20.0 LUFS) as a WAV file.
    static func writeTone(to path: String) throws {
        try WAVFile.write(loudnessReferenceTone(), to: path)
    }

    @Test func badTargetsAreClearErrorsNotTraps() async throws {
        let folder = try TemporaryFolder()
        try Self.writeTone(to: folder.path("tone.wav"))
        let out = folder.path("out.wav")
        let cases: [([String], String)] = [
            (["--target-lufs", "abc"], "--target-lufs"),
            (["--target-lufs", "5"], "loudness target"),
            (["--target-lufs", "nan"], "loudness target"),
            (["--target-lufs", "-1e308"], "loudness target"),
            (["--target-lufs", "-16", "--true-peak-ceiling", "inf"], "true-peak ceiling"),
        ]
        for (options, mentions) in cases {
            let result = try await ScaleKitProcesses.runOne(environment: [:], arguments: ["join", folder.path("tone.wav"), "-o", out, "--quiet"] + options)
            #expect(!result.crashed && result.status == 64, "\(options): exit \(result.status) \(result.standardError)")
            #expect(result.standardError.contains(mentions), "\(options): \(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func jsonSummaryCarriesTheLoudnessFigures() async throws {
        let folder = try TemporaryFolder()
        try Self.writeTone(to: folder.path("tone.wav"))
        let timeline = folder.path("timeline.json")
        try Data(#"{"sample_rate_out": 48000, "clips": [{"file": "tone.wav", "start": 0}]}"#.utf8).write(to: URL(fileURLWithPath: timeline))
        let out = folder.path("out.wav")
        let result = try await ScaleKitProcesses.runOne(
            environment: [:], arguments: ["mix", timeline, "-o", out, "--target-lufs", "-23", "--true-peak-ceiling", "-1.5", "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let line = try #require(result.standardOutput.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["file"] as? String == out)
        #expect(object["frames"] as? Int == 144_000 && object["sample_rate"] as? Int == 48_000)
        let loudness = try #require(object["loudness"] as? [String: Any])
        let after = try #require(loudness["integrated_lufs"] as? Double)
        #expect(abs(after - -23) < 0.05)
        #expect(loudness["true_peak_dbtp"] as? Double != nil && loudness.keys.contains("loudness_range_lu"))
        let plan = try #require(object["normalisation"] as? [String: Any])
        #expect(plan["target_lufs"] as? Double == -23 && plan["true_peak_ceiling_dbtp"] as? Double == -1.5)
        #expect(abs((plan["gain_db"] as? Double ?? 0) - -3) < 0.05 && plan["limited_by_true_peak"] as? Bool == false)
        let before = try #require(plan["before"] as? [String: Any])
        #expect(abs((before["integrated_lufs"] as? Double ?? 0) - -20) < 0.05)

        // Without a target, --json still measures; silence has null loudness and peaks.
        try WAVFile.write(PCMBuffer(silenceOf: 48_000, format: .stereo48k), to: folder.path("silence.wav"))
        let silent = try await ScaleKitProcesses.runOne(environment: [:], arguments: ["join", folder.path("silence.wav"), "-o", out, "--json"])
        #expect(silent.status == 0, "\(silent.standardError)")
        let silentObject = try #require(try JSONSerialization.jsonObject(with: Data(silent.standardOutput.utf8)) as? [String: Any])
        let silentLoudness = try #require(silentObject["loudness"] as? [String: Any])
        #expect(silentLoudness["integrated_lufs"] is NSNull && silentLoudness["true_peak_dbtp"] is NSNull)
        #expect(silentObject["normalisation"] is NSNull && silentObject["peak_dbfs"] is NSNull)
    }
}
