import Foundation
import ScaleKit
import ScaleKitTestSupport
import Testing

/// Quotas through the `scalekit` tool, in processes of its own.
@Suite struct QuotaToolTests {
    /// What the windowed part of the scenario saw, for ``CalendarWindows/inOneHour(now:_:)``.
    private struct Windowed {
        var acquire, denied, refund, again, usage, fits, tooMuch, counted: ScaleKitProcesses.Result
    }

    /// Acquire, a refusal by the hour's per-key limit, refunds and usage, on
    /// fresh counters: an hour limit's verdicts need one hour window.
    private static func windowedScenario() async throws -> Windowed {
        let folder = try TemporaryFolder()
        let environment = Self.environment(folder)
        let acquire = try await ScaleKitProcesses.runOne(
            environment: environment, arguments: ["acquire", "--quota", "tts", "--key", "acme", "--cost", "3", "--json"])
        let receipt = (try? JSONSerialization.jsonObject(with: Data(acquire.standardOutput.utf8)) as? [String: Any])?["receipt"] as? String ?? "none"
        let denied = try await ScaleKitProcesses.runOne(
            environment: environment, arguments: ["acquire", "--quota", "tts", "--key", "acme", "--cost", "2"])
        let refund = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["refund", receipt])
        let again = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["refund", receipt])
        let usage = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--quota", "tts", "--key", "acme"])
        let fits = try await ScaleKitProcesses.runOne(
            environment: environment, arguments: ["usage", "--quota", "tts", "--key", "acme", "--cost", "4", "--json"])
        let tooMuch = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--quota", "tts", "--key", "acme", "--cost", "5"])
        let counted = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--quota", "tts", "--key", "acme"])
        return Windowed(acquire: acquire, denied: denied, refund: refund, again: again, usage: usage, fits: fits, tooMuch: tooMuch, counted: counted)
    }

    private static func environment(_ folder: TemporaryFolder) -> [String: String] {
        [
            "API_TRACKER_FILE": folder.path("api.json"), "DATABASE_URL": "sqlite:///\(folder.path("v.sqlite"))",
            "SCALEKIT_QUOTAS": "tts=10/day,4/hour/key",
        ]
    }

    @Test func theToolAcquiresRefundsAndListsQuotas() async throws {
        let run = try await CalendarWindows.inOneHour { try await Self.windowedScenario() }
        let (acquire, denied, refund, again) = (run.acquire, run.denied, run.refund, run.again)
        #expect(acquire.status == 0, "\(acquire.standardError)")
        let decision = try #require(try JSONSerialization.jsonObject(with: Data(acquire.standardOutput.utf8)) as? [String: Any])
        _ = try #require(decision["receipt"] as? String)
        #expect(denied.status == 3 && denied.standardOutput.contains("hour-per-key"), "\(denied.standardOutput)")
        #expect(refund.status == 0 && refund.standardOutput.contains("settled"), "\(refund.standardOutput) \(refund.standardError)")
        #expect(again.standardOutput.contains("alreadySettled"), "\(again.standardOutput)")
        let usage = run.usage
        #expect(usage.standardOutput.contains("day: 0/10") && usage.standardOutput.contains("hour-per-key: 0/4"), "\(usage.standardOutput)")
        let fits = run.fits
        let fit = try #require(try JSONSerialization.jsonObject(with: Data(fits.standardOutput.utf8)) as? [String: Any], "\(fits.standardError)")
        #expect(fit["fits"] as? Bool == true && fit["refused_by"] as? [String] == [] && fit["cost"] as? Int == 4, "\(fit)")
        #expect((fit["limits"] as? [[String: Any]])?.count == 2, "usage --cost --json keeps the usage's fields: \(fit)")
        let tooMuch = run.tooMuch
        #expect(tooMuch.status == 0 && tooMuch.standardOutput.contains("would be refused by: hour-per-key"), "\(tooMuch.standardOutput)")
        #expect(run.counted.standardOutput.contains("hour-per-key: 0/4"), "usage --cost counts nothing: \(run.counted.standardOutput)")
        // The rest reads no window.
        let folder = try TemporaryFolder()
        let environment = Self.environment(folder)
        let noCost = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["usage", "--cost", "0"])
        #expect(!noCost.crashed && noCost.status != 0 && noCost.standardError.contains("--cost 0"), "\(noCost.status) \(noCost.standardError)")
        let bad = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["acquire", "--quota", "tts", "--key", "a:b"])
        #expect(!bad.crashed && bad.status != 0 && bad.standardError.contains("invalidArgument"), "\(bad.status) \(bad.standardError)")
        let zero = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["acquire", "--quota", "tts", "--key", "acme", "--cost", "0"])
        #expect(!zero.crashed && zero.status != 0 && zero.standardError.contains("invalidArgument"), "\(zero.status) \(zero.standardError)")
        let forged = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["refund", "q1.not-a-receipt"])
        #expect(!forged.crashed && forged.status != 0 && forged.standardError.contains("invalidArgument"), "\(forged.standardError)")
        let doctor = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["doctor"])
        #expect(doctor.standardOutput.contains("rapidapi: day 100/day, hour 20/hour"), "\(doctor.standardOutput)")
        #expect(doctor.standardOutput.contains("tts: day 10/day, hour-per-key 4/hour per key"), "\(doctor.standardOutput)")
        let plain = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["acquire"])
        #expect(plain.status == 0 && plain.standardOutput.contains("allowed"), "the seed's acquire still works: \(plain.standardOutput)")
    }
}
