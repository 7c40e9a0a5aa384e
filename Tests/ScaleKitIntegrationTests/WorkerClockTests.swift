import Foundation
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import Testing

/// The database's clock decides leases: `scalekit claim` run under
/// libfaketime (Debian's `libfaketime`, installed by scripts/setup.sh) with a
/// clock an hour fast does not take over a live lease, and one an hour slow
/// does take over an expired one. The lease ends because the test moves
/// `lease_expires_at` into the past on the server, never by waiting.
@Suite struct WorkerClockTests {
    static let faketime = "/usr/bin/faketime"

    /// Runs `scalekit` with its wall clock off by `offset` ("+1h", "-1h"). Through
    /// the `faketime` launcher: a Swift binary started directly with libfaketime
    /// in LD_PRELOAD lost its arguments (it printed its usage). Monotonic time
    /// stays real, so the pool's timeouts are not disturbed.
    private func skewed(_ offset: String, _ environment: [String: String], _ arguments: [String]) async throws
        -> ScaleKitProcesses.Result
    {
        try #require(FileManager.default.isExecutableFile(atPath: Self.faketime), "faketime is missing: run scripts/setup.sh")
        return try await ScaleKitProcesses.runOne(
            launcher: [Self.faketime, "-f", offset], environment: environment.merging(["DONT_FAKE_MONOTONIC": "1"]) { $1 },
            arguments: arguments)
    }

    /// Not under a sanitizer: under ThreadSanitizer the tool started through
    /// faketime hung before it printed anything, and both sanitizers' runtimes
    /// must come first in the library list, ahead of a preloaded libfaketime.
    /// The unit stage runs it.
    @Test(.enabled(if: TestServers.postgresEnabled && !TestServers.sanitizerBuild))
    func skewedWorkerClocksDoNotDecide() async throws {
        let url = try TestServers.requireDatabaseURL()
        let folder = try TemporaryFolder()
        let environment = ["DATABASE_URL": url, "API_TRACKER_FILE": folder.path("api.json")]
        let id = "clock-\(UUID().uuidString)"

        let holder = try await ScaleKitProcesses.runOne(environment: environment, arguments: ["claim", id, "--lease", "600"])
        #expect(holder.status == 0 && holder.standardOutput.hasPrefix("created"), "\(holder.standardOutput) \(holder.standardError)")

        // An hour fast: under the worker's clock the ten-minute lease would have ended 50 minutes ago.
        let fast = try await skewed("+1h", environment, ["claim", id, "--lease", "600"])
        #expect(fast.status == 3 && fast.standardOutput.hasPrefix("alreadyProcessing"), "\(fast.standardOutput) \(fast.standardError)")

        // The lease ends (on the server); an hour slow, the worker's clock would still see it live.
        try await LeaseExpiry.expirePostgres(url: url, videoID: id)
        let slow = try await skewed("-1h", environment, ["claim", id, "--lease", "60"])
        #expect(slow.status == 0 && slow.standardOutput.hasPrefix("tookOverExpiredLease"), "\(slow.standardOutput) \(slow.standardError)")

        // The new lease is the server's now + 60 s, not the slow worker's.
        let repository = try PostgresVideoRepository(url: url)
        let video = try await repository.video(id: id)
        await repository.shutdown()
        let end = try #require(video?.leaseExpiresAt)
        #expect(abs(end.timeIntervalSinceNow - 60) < 1_800, "lease ends at \(end), not about a minute from now")
    }
}
