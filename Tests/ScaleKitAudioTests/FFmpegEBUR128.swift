import Foundation
import ScaleKitTestSupport
import Testing

/// The ffmpeg tool for a comparison test, or `nil` to skip it where ffmpeg
/// is not installed — unless `SCALEKIT_REQUIRE_SERVERS=1` (scripts/test.sh),
/// where a missing ffmpeg fails the test instead of hiding it.
func ffmpegToolOrFailure() throws -> String? {
    if let tool = ffmpegTool() { return tool }
    if TestServers.areRequired {
        throw FFmpegMissing()
    }
    return nil
}

struct FFmpegMissing: Error, CustomStringConvertible {
    var description: String { "the ffmpeg tool is not installed and SCALEKIT_REQUIRE_SERVERS=1 requires the comparisons with it" }
}

/// What ffmpeg's `ebur128` filter (`peak=true`) prints in its summary for a file.
struct FFmpegLoudness {
    var integratedLUFS: Double
    var truePeakDBTP: Double
}

/// Runs `ffmpeg -nostats -i FILE -af ebur128=peak=true -f null -` and parses
/// the summary's "I: … LUFS" and, under "True peak:", "Peak: … dBFS".
func ffmpegLoudness(_ ffmpeg: String, of path: String) async throws -> FFmpegLoudness {
    let log = path + ".ebur128-\(UUID().uuidString).log"
    defer { try? FileManager.default.removeItem(atPath: log) }
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try #require(FileHandle(forWritingAtPath: log))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ffmpeg)
    process.arguments = ["-nostdin", "-nostats", "-i", path, "-af", "ebur128=peak=true", "-f", "null", "-"]
    // A file, not a pipe: the filter logs a line per 100 ms, more than a pipe buffers.
    process.standardError = handle
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let running = EBUR128ProcessBox(process: process)
    try await offThePool { running.process.waitUntilExit() }
    try handle.close()
    try #require(process.terminationStatus == 0, "ffmpeg ebur128 on \(path)")
    let text = try String(contentsOfFile: log, encoding: .utf8)
    guard let start = text.range(of: "Summary:") else { throw FFmpegOutputUnreadable(text: text) }
    let summary = String(text[start.upperBound...])
    func number(after label: String, in text: String) -> Double? {
        guard let range = text.range(of: label) else { return nil }
        return text[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\n" }).first.flatMap { Double($0) }
    }
    let integrated = try #require(number(after: "I:", in: summary), "\(summary)")
    let truePeakSection = try #require(summary.range(of: "True peak:").map { String(summary[$0.upperBound...]) }, "\(summary)")
    let peak = try #require(number(after: "Peak:", in: truePeakSection), "\(summary)")
    return FFmpegLoudness(integratedLUFS: integrated, truePeakDBTP: peak)
}

struct FFmpegOutputUnreadable: Error, CustomStringConvertible {
    var text: String
    var description: String { "no ebur128 summary in ffmpeg's output: \(text.suffix(2_000))" }
}

/// `Process` is safe to wait on from one thread once it runs.
private struct EBUR128ProcessBox: @unchecked Sendable { let process: Process }
