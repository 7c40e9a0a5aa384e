import Foundation
import ScaleKit
import ScaleKitTestSupport
import Testing

/// Numbers from outside (a tracker file, the environment, a TTL, a
/// timeline, a CLI option) are range-checked where they enter: out of range
/// is a typed error naming the field and the range, never a trap.
@Suite struct HostileNumberTests {
    private func trackerFile(totalRequests: String, in folder: TemporaryFolder) throws -> String {
        let path = folder.path("api.json")
        let text = #"{"version":1,"windows":{},"total_requests":\#(totalRequests),"successful_requests":0,"failed_requests":0,"denied_requests":0}"#
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func trackerFileCountsBeyondTheMaximumAreCorruptData() async throws {
        let folder = try TemporaryFolder()
        for (value, expected) in [("9223372036854775807", "outside 0…9007199254740991"), ("9007199254740991", "reached its maximum")] {
            let path = try trackerFile(totalRequests: value, in: folder)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let error = await #expect(throws: ScaleKitError.self) { try await FileAPITracker(path: path).checkAndCount() }
            #expect(error?.code == .corruptData && error?.message.contains("total_requests") == true, "\(String(describing: error))")
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "a refused count changed the file")
        }
    }

    @Test func acquireWithAnOverflowingTrackerFileExitsCleanly() async throws {
        let folder = try TemporaryFolder()
        let path = try trackerFile(totalRequests: "9223372036854775807", in: folder)
        let result = try await ScaleKitProcesses.runOne(
            environment: ["API_TRACKER_FILE": path, "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"], arguments: ["acquire"])
        #expect(!result.crashed && result.status == 1, "exit \(result.status): \(result.standardError)")
        #expect(result.standardError.contains("corruptData") && result.standardError.contains("total_requests"))
    }

    @Test func limitsBeyondTheMaximumAreInvalidConfiguration() {
        for variable in ["RAPIDAPI_DAILY_LIMIT", "RAPIDAPI_HOURLY_LIMIT"] {
            let error = #expect(throws: ScaleKitError.self) {
                try ScaleKitConfiguration(environment: [variable: "9223372036854775807"])
            }
            #expect(error?.code == .invalidConfiguration && error?.message.contains(variable) == true)
        }
    }

    @Test(arguments: [Duration.seconds(Int64.max / 1_000), .seconds(11 * 365 * 86_400), .nanoseconds(1), .seconds(-1)])
    func statusTTLsOutsideTheRangeAreRefused(ttl: Duration) async throws {
        let tracker = InMemoryStatusTracker()
        let error = await #expect(throws: ScaleKitError.self) { try await tracker.mergeStatus(["a": 1], for: "job", ttl: ttl) }
        #expect(error?.code == .invalidArgument && error?.message.contains("TTL") == true)
        #expect(try await tracker.status(for: "job") == nil)
    }

    @Test func cliTTLOutsideTheRangeExits64() async throws {
        let folder = try TemporaryFolder()
        var environment = ["API_TRACKER_FILE": folder.path("api.json"), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))"]
        var backends = [environment]
        if let redis = TestServers.redisURL { environment["REDIS_URL"] = redis; backends.append(environment) }
        for environment in backends {
            for ttl in ["9223372036854775807", "0", "-5", "400000000"] {
                let result = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["status", "merge", "ttl-\(UUID())", "{}", "--ttl=\(ttl)"])
                #expect(!result.crashed && result.status == 64 && result.standardError.contains("TTL"), "--ttl \(ttl): exit \(result.status) \(result.standardError)")
            }
        }
    }

    private static let second = PCMBuffer(format: AudioFormat(sampleRate: 8_000, channels: 1), samples: [Float](repeating: 0.25, count: 8_000))

    @Test(arguments: [(100_000.0, 0.0, "start"), (0, 1e6, "gain"), (0, -1e6, "gain"), (0, .nan, "gain"), (-1, 0, "start")])
    func timelineNumbersOutsideTheirRangesAreRefusedBeforeRendering(start: Double, gain: Double, field: String) async throws {
        let folder = try TemporaryFolder()
        let timeline = AudioTimeline(clips: [TimelineClip(source: .pcm(Self.second, name: "tone"), start: start, gainDB: gain)])
        let error = await #expect(throws: ScaleKitError.self) {
            try await PCMAudioMixer().mix(timeline, into: .file(folder.path("out.wav"), format: Self.second.format))
        }
        #expect(error?.code == .invalidArgument && error?.message.contains(field) == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: folder.path("out.wav")))
    }

    @Test func joinGapsAndDucklingOutsideTheirRangesAreRefused() async throws {
        let join = AudioJoin(segments: [.pcm(Self.second, name: "a"), .pcm(Self.second, name: "b")], gap: 1e300)
        let error = await #expect(throws: ScaleKitError.self) { try await PCMAudioMixer().join(join, into: .memory(format: Self.second.format)) }
        #expect(error?.code == .invalidArgument && error?.message.contains("gap") == true)
        let ducked = AudioTimeline(
            clips: [TimelineClip(source: .pcm(Self.second, name: "a"), start: 0)],
            background: BackgroundTrack(source: .pcm(Self.second, name: "bg"), ducking: Ducking(depthDB: 12, rampSeconds: 1e300)))
        let duckError = await #expect(throws: ScaleKitError.self) { try await PCMAudioMixer().mix(ducked, into: .memory(format: Self.second.format)) }
        #expect(duckError?.code == .invalidArgument && duckError?.message.contains("ducking ramp") == true)
    }

    @Test func anOutputLongerThanItsMaximumDurationStops() async throws {
        let timeline = AudioTimeline(clips: [TimelineClip(source: .pcm(Self.second, name: "tone"), start: 0.5)])
        var output = AudioOutput.memory(format: Self.second.format)
        output.maximumDuration = 1
        let error = await #expect(throws: ScaleKitError.self) { try await PCMAudioMixer().mix(timeline, into: output) }
        #expect(error?.code == .invalidArgument && error?.message.contains("maximum duration") == true)
        output.maximumDuration = 2
        let summary = try await PCMAudioMixer().mix(timeline, into: output)
        #expect(summary.frames == 12_000)
    }

    @Test func jsonErrorsNameTheFieldAndTheProblem() throws {
        let error = #expect(throws: ScaleKitError.self) { try JSONValue.decode(Data(#"{"a":1e400}"#.utf8)) }
        #expect(error?.message.contains("1e400 at .a is out of range") == true, "\(String(describing: error))")
        for (json, expected) in [
            (#"{"sample_rate_out": 48000.5, "clips": []}"#, "sample_rate_out is 48000.5"),
            (#"{"sample_rate_out": 48000, "channels_out": 7, "clips": []}"#, "channels_out is 7.0"),
            (#"{"clips": [{"file": "a.wav", "start": 0}, {"file": "b.wav", "start": -1e400}]}"#, "at .clips[1].start is out of range"),
        ] {
            let error = #expect(throws: ScaleKitError.self) { try AudioTimeline.decode(json: Data(json.utf8), relativeTo: "/") }
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        }
    }

    @Test func cliNumericOptionsOutOfRangeExit64() async throws {
        let folder = try TemporaryFolder()
        try WAVFile.write(Self.second, to: folder.path("a.wav"))
        let timeline = folder.path("late.json")
        try Data(#"{"clips": [{"file": "a.wav", "start": 100000}]}"#.utf8).write(to: URL(fileURLWithPath: timeline))
        let loud = folder.path("loud.json")
        try Data(#"{"clips": [{"file": "a.wav", "start": 0, "gain_db": 1e6}]}"#.utf8).write(to: URL(fileURLWithPath: loud))
        let out = folder.path("out.wav")
        let cases: [[String]] = [
            ["mix", timeline, "-o", out], ["mix", loud, "-o", out],
            ["mix", loud, "-o", out, "--max-duration", "1e300"],
            ["join", folder.path("a.wav"), "-o", folder.path("out.mp3"), "--bitrate", "1e300k"],
            ["join", folder.path("a.wav"), "-o", folder.path("out.mp3"), "--bitrate", "nan"],
            ["join", folder.path("a.wav"), folder.path("a.wav"), "-o", out, "--gap", "1e300"],
            ["join", folder.path("a.wav"), "-o", out, "--sample-rate", "9223372036854775807"],
        ]
        for arguments in cases {
            let result = try await ScaleKitProcesses.runOne(environment: [:], arguments: arguments + ["--quiet"])
            #expect(!result.crashed && result.status == 64, "\(arguments.dropFirst(2)): exit \(result.status) \(result.standardError)")
            #expect(result.standardError.contains("invalidArgument"), "\(arguments): \(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
