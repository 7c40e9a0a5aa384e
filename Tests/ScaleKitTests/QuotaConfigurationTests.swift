import Foundation
import ScaleKit
import ScaleKitTestSupport
import Testing

/// Quotas from SCALEKIT_QUOTAS and SCALEKIT_QUOTAS_FILE (the tool: QuotaToolTests).
@Suite struct QuotaConfigurationTests {
    @Test func theVariableDefinesQuotas() throws {
        let configuration = try ScaleKitConfiguration(environment: [
            "SCALEKIT_QUOTAS": " deepgram = 100/second, 5000/hour/key ,200000/day ; elevenlabs=10000/rolling-60s/key,chars:2000000/month@Europe/Paris",
            "RAPIDAPI_DAILY_LIMIT": "7",
        ])
        #expect(configuration.apiLimits == APILimits(daily: 7, hourly: 20))
        let quotas = configuration.apiQuotas
        #expect(quotas.map(\.name) == ["deepgram", "elevenlabs"])
        #expect(quotas[0].limits == [
            QuotaLimit(100, per: .calendar(.second)), QuotaLimit(5000, per: .calendar(.hour), perKey: true), QuotaLimit(200_000, per: .calendar(.day)),
        ])
        #expect(quotas[1].limits == [
            QuotaLimit(10_000, per: .rolling(.seconds(60)), perKey: true),
            QuotaLimit(2_000_000, per: .calendar(.month, timeZone: TimeZone(identifier: "Europe/Paris")!), name: "chars"),
        ])
        #expect(quotas[1].limits[0].name == "rolling-60s-per-key")
        #expect(try ScaleKitConfiguration(environment: [:]).apiQuotas.isEmpty)
    }

    @Test(arguments: [
        ("tts", "entry 1 (\"tts\"): expected NAME=LIMIT"),
        ("a=1/day;b=2/fortnight", "entry 2 (\"b=2/fortnight\"): limit \"2/fortnight\": unknown window"),
        ("a=-1/day", "the count \"-1\""),
        ("a=99999999999999999999/day", "the count"),
        ("a=1/day/tenant", "COUNT/WINDOW/key"),
        ("a=1/day,1/day", "two limits named day"),
        ("a=1/day;a=2/hour", "quota a is defined twice"),
        ("rapidapi=1/day", "RAPIDAPI_DAILY_LIMIT"),
        ("Bad Name=1/day", "quota name"),
        ("a=1/rolling-0s", "rolling window"),
        ("a=1/rolling-40d", "rolling window"),
        ("a=1/rolling-10x", "rolling-<N>"),
        ("a=1/day@Mars/Olympus", "unknown time zone"),
        ("a={x}:1/day", "limit name"),
    ])
    func malformedQuotasNameTheEntry(value: String, expected: String) {
        let error = #expect(throws: ScaleKitError.self) { try ScaleKitConfiguration(environment: ["SCALEKIT_QUOTAS": value]) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("SCALEKIT_QUOTAS") == true, "\(String(describing: error))")
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func aJSONFileDefinesQuotas() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("quotas.json")
        try Data(#"{"quotas": ["deepgram", "tts"], "quota": {"deepgram": ["100/second", "5000/hour/key"], "tts": ["10000/rolling-60s"]}}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let configuration = try ScaleKitConfiguration(environment: ["SCALEKIT_QUOTAS": "x=1/day", "SCALEKIT_QUOTAS_FILE": path])
        let quotas = try await configuration.allAPIQuotas()
        #expect(quotas.map(\.name) == ["x", "deepgram", "tts"])
        #expect(quotas[1].limits.map(\.name) == ["second", "hour-per-key"])
    }

    @Test(arguments: [
        (#"{"quotas": ["a"], "quota": {"a": ["1/fortnight"]}}"#, "quota.a"),
        (#"{"quotas": ["a"]}"#, "quota.a must be an array"),
        (#"{"quotas": "a"}"#, "\"quotas\" must be an array"),
        (#"{"quotas": ["a b"]}"#, "quota name"),
        (#"{"quotas": ["x"], "quota": {"x": ["1/day"]}}"#, "both in SCALEKIT_QUOTAS"),
        (#"{"quotas": ["#, "cannot be read as JSON"),
    ])
    func malformedFilesNameTheEntry(text: String, expected: String) async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("quotas.json")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let configuration = try ScaleKitConfiguration(environment: ["SCALEKIT_QUOTAS": "x=1/day", "SCALEKIT_QUOTAS_FILE": path])
        let error = await #expect(throws: ScaleKitError.self) { try await configuration.allAPIQuotas() }
        #expect(error?.code == .invalidConfiguration && error?.message.contains(path) == true, "\(String(describing: error))")
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    }
}

/// The UTC fast path names, starts and ends windows exactly as Foundation's calendar does.
@Suite struct QuotaCalendarWindowTests {
    @Test func utcArithmeticMatchesTheCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        var instant = Date(timeIntervalSince1970: -86_400 * 400)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            instant = instant.addingTimeInterval(Double(UInt64.random(in: 1...40 * 86_400, using: &generator)) + 0.25)
            for unit in QuotaCalendarUnit.allCases {
                let window = QuotaCalendarWindow(unit, containing: instant, timeZone: .utc)
                let component: Calendar.Component = [.second: .second, .minute: .minute, .hour: .hour, .day: .day, .month: .month][unit]!
                let start = calendar.dateInterval(of: component, for: instant)!
                #expect(window.end == start.end, "\(unit) at \(instant)")
                #expect(window.start == start.start, "\(unit) at \(instant)")
                let zoned = QuotaCalendarWindow(unit, containing: instant, timeZone: TimeZone(identifier: "Europe/Paris")!)
                #expect(zoned.start <= instant && instant < zoned.end, "\(unit) at \(instant) in Paris")
                let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: instant)
                let full = String(format: "%04d-%02d-%02d-%02d-%02d-%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
                let length = [.month: 7, .day: 10, .hour: 13, .minute: 16, .second: 19][unit]!
                #expect(window.name == String(full.prefix(length)), "\(unit) at \(instant)")
            }
        }
        #expect(QuotaCalendarWindow(.day, containing: Date(timeIntervalSince1970: 1_795_939_200), timeZone: .utc).name == "2026-11-29")
    }
}
