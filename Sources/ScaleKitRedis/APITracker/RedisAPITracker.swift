import Foundation
public import Logging
public import ScaleKit

/// An ``/ScaleKit/APITracking`` on Redis: every worker that points at the same server
/// and key prefix shares the same counts.
///
/// ``checkAndCount()`` is one Lua script: both limits are checked, both
/// counters incremented and given their expiry, and the totals updated
/// atomically on the server, so any number of concurrent callers in any
/// number of processes get exactly `limit` allowed decisions. The key schema
/// (see ``RedisAPIKeys`` and Docs/Redis.md) keeps the seed's names inside a
/// hash tag: `{api_tracker}:day:2026-11-29`.
///
/// When Redis is unreachable, the tracker throws (``RedisUnreachablePolicy/failClosed``,
/// the default) or allows the call uncounted (``RedisUnreachablePolicy/failOpen``);
/// either way no call waits longer than the connect and command timeouts.
public final class RedisAPITracker: APITracking {
    /// Limits, time zone and key prefix.
    public let configuration: APITrackerConfiguration
    /// What happens when Redis cannot be reached.
    public let unreachablePolicy: RedisUnreachablePolicy
    /// The keys this tracker writes.
    public let keys: RedisAPIKeys
    /// The connections it uses.
    public let client: RedisClient
    private let clock: any WallClock
    private let logger: Logger

    /// A tracker on a shared ``RedisClient``.
    public init(
        client: RedisClient, configuration: APITrackerConfiguration = APITrackerConfiguration(),
        unreachablePolicy: RedisUnreachablePolicy = .failClosed, clock: any WallClock = .system,
        logger: Logger = Logger(label: "scalekit.redis.api-tracker")
    ) {
        self.client = client
        self.configuration = configuration
        self.unreachablePolicy = unreachablePolicy
        self.keys = RedisAPIKeys(keyPrefix: configuration.keyPrefix)
        self.clock = clock
        self.logger = logger
    }

    /// A tracker with its own connections to the server at `url`
    /// (`redis://[user:password@]host[:port][/db]` or `unix:///path`).
    /// Opens no connection yet. Build one ``RedisClient`` and pass it to both
    /// trackers instead when they should share a pool.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidConfiguration` for a malformed URL,
    ///   `unsupported` for `rediss://` (no TLS in hiredis 0.14).
    public convenience init(
        url: String, configuration: APITrackerConfiguration = APITrackerConfiguration(),
        unreachablePolicy: RedisUnreachablePolicy = .failClosed,
        pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration, clock: any WallClock = .system,
        logger: Logger = Logger(label: "scalekit.redis.api-tracker")
    ) throws(ScaleKitError) {
        self.init(
            client: try RedisClient(url: url, pool: pool, logger: logger), configuration: configuration,
            unreachablePolicy: unreachablePolicy, clock: clock, logger: logger)
    }

    /// Atomically checks the limits and counts the call (one script, one round trip).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `connectionFailed`, `timeout` or
    ///   `poolExhausted` when Redis is unreachable (unless fail-open);
    ///   `corruptData` when a counter or stats field holds something other
    ///   than a whole number (checked before anything is written, so nothing
    ///   is counted); `serverError` when Redis refuses the script.
    ///
    /// Traced as `api_tracker.check_and_count` with the decision and the limit that denied.
    public func checkAndCount() async throws -> APICallDecision {
        try await ScaleKitSpan.run("api_tracker.check_and_count") { span in
            client.configuration.describe(span, operation: "EVALSHA")
            let decision = try await countCall()
            span.set("scalekit.api.allowed", decision.isAllowed)
            if let deniedBy = decision.deniedBy { span.set("scalekit.api.denied_by", deniedBy.rawValue) }
            return decision
        }
    }

    private func countCall() async throws -> APICallDecision {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        let limits = configuration.limits
        let reply: RedisValue
        do {
            reply = try await client.withConnection { connection in
                try await connection.evaluate(
                    RedisAPITrackerScripts.checkAndCount,
                    keys: [RedisArgument(keys.day(windows)), RedisArgument(keys.hour(windows)), RedisArgument(keys.stats)],
                    arguments: [
                        RedisArgument(limits.daily), RedisArgument(limits.hourly),
                        RedisArgument(Int(APIWindows.dayCounterLifetime.components.seconds)),
                        RedisArgument(Int(APIWindows.hourCounterLifetime.components.seconds)),
                    ])
            }
        } catch let error as ScaleKitError where error.nativeCode == "CORRUPT" {
            // The script checked the stored values before its first write: nothing was counted.
            throw ScaleKitError(
                .corruptData, "an API tracker value under \(keys.taggedPrefix) is corrupt; nothing was counted: \(error.message)",
                nativeCode: "CORRUPT")
        } catch let error as ScaleKitError where unreachablePolicy == .failOpen && Self.isUnreachable(error) {
            logger.warning(
                "Redis unreachable; allowing the API call uncounted (fail-open)",
                metadata: ["server": "\(client.configuration)", "error": "\(error)"])
            return APICallDecision(isAllowed: true, deniedBy: nil, usage: Self.unknownUsage(windows, limits))
        }
        guard let numbers = reply.array?.compactMap(\.integer), numbers.count == 7 else {
            throw ScaleKitError(.corruptData, "the API tracker script returned an unexpected reply: \(reply)")
        }
        let deniedBy: APILimitWindow? = numbers[0] == 1 ? .day : numbers[0] == 2 ? .hour : nil
        let usage = APIUsage(
            dayCount: Int(numbers[1]), hourCount: Int(numbers[2]), limits: limits, totalCalls: Int(numbers[3]),
            successes: Int(numbers[4]), failures: Int(numbers[5]), denied: Int(numbers[6]),
            dayResetsAt: windows.dayEnd, hourResetsAt: windows.hourEnd)
        return APICallDecision(isAllowed: deniedBy == nil, deniedBy: deniedBy, usage: usage)
    }

    /// Adds one to `successful_requests` or `failed_requests` (one `HINCRBY`).
    ///
    /// - Throws: as ``checkAndCount()``; fail-open drops the outcome with a warning instead.
    public func recordOutcome(_ outcome: APICallOutcome) async throws {
        let field = outcome == .success ? RedisAPIKeys.StatsField.successful : RedisAPIKeys.StatsField.failed
        do {
            try await client.withConnection { connection in
                _ = try await connection.send("HINCRBY", RedisArgument(keys.stats), RedisArgument(field), 1)
            }
        } catch let error as ScaleKitError where unreachablePolicy == .failOpen && Self.isUnreachable(error) {
            logger.warning(
                "Redis unreachable; API call outcome not recorded (fail-open)",
                metadata: ["server": "\(client.configuration)", "outcome": "\(outcome.rawValue)", "error": "\(error)"])
        }
    }

    /// The counters of the current windows and the totals, read in one pipelined round trip.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` when Redis is unreachable (also when fail-open:
    ///   there is no honest number to return) or a counter is not a number.
    public func usage() async throws -> APIUsage {
        let windows = APIWindows(containing: clock.now(), timeZone: configuration.timeZone)
        let replies = try await client.withConnection { connection in
            try await connection.pipeline([
                RedisCommand("GET", [RedisArgument(keys.day(windows))]),
                RedisCommand("GET", [RedisArgument(keys.hour(windows))]),
                RedisCommand(
                    "HMGET",
                    [
                        RedisArgument(keys.stats), RedisArgument(RedisAPIKeys.StatsField.total),
                        RedisArgument(RedisAPIKeys.StatsField.successful), RedisArgument(RedisAPIKeys.StatsField.failed),
                        RedisArgument(RedisAPIKeys.StatsField.denied),
                    ]),
            ])
        }
        for reply in replies { if case .error(let error) = reply { throw error.scaleKitError } }
        let totals = replies[2].array ?? []
        func count(_ value: RedisValue?) throws(ScaleKitError) -> Int {
            guard let value, !value.isNull else { return 0 }
            guard let number = value.integer, number >= 0 else {
                throw ScaleKitError(.corruptData, "an API tracker counter under \(keys.taggedPrefix) is not a whole number")
            }
            return Int(number)
        }
        return APIUsage(
            dayCount: try count(replies[0]), hourCount: try count(replies[1]), limits: configuration.limits,
            totalCalls: try count(totals.first), successes: try count(totals.dropFirst(1).first),
            failures: try count(totals.dropFirst(2).first), denied: try count(totals.dropFirst(3).first),
            dayResetsAt: windows.dayEnd, hourResetsAt: windows.hourEnd)
    }

    static func isUnreachable(_ error: ScaleKitError) -> Bool {
        [.connectionFailed, .timeout, .poolExhausted].contains(error.code)
    }

    private static func unknownUsage(_ windows: APIWindows, _ limits: APILimits) -> APIUsage {
        APIUsage(
            dayCount: 0, hourCount: 0, limits: limits, totalCalls: 0, successes: 0, failures: 0, denied: 0,
            dayResetsAt: windows.dayEnd, hourResetsAt: windows.hourEnd)
    }
}
