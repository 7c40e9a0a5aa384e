import Foundation
public import Logging
import Synchronization
public import Metrics
public import ScaleKit

/// An ``/ScaleKit/APITracking`` on Redis: every worker that points at the same server
/// and key prefix shares the same counts.
///
/// ``checkAndCount(_:)`` is one Lua script whatever the number of limits:
/// every limit of the quota is checked, every counter incremented and given
/// its expiry, and the totals updated atomically on the server, so any number of concurrent callers in any
/// number of processes get exactly `limit` allowed decisions. The key schema
/// (see Docs/Redis.md) keeps the seed's names inside a
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
    package let keys: RedisAPIKeys
    /// The connections it uses.
    package let client: RedisClient
    private let clock: any WallClock
    private let logger: Logger
    private let metrics: APICallMetrics
    /// With ``RedisTimeSource/server``: how far the server's clock is ahead of
    /// `clock`, in milliseconds, as the last `WINDOW` refusal showed.
    private let serverClockOffset = Atomic<Int64>(0)
    /// Per quota, made once: its stats key and its outcome commands.
    private let statsCommands: [String: StatsCommands]
    /// Check calls prepared per quota, key and cost for their current windows.
    private let preparedChecks = SanitizerVisibleMutex<[PreparedCheckKey: PreparedCheck]>([:])

    /// Which clock every window (calendar and rolling) and reservation expiry follows.
    public let timeSource: RedisTimeSource

    /// A tracker on a shared ``RedisClient``.
    ///
    /// Every window follows `timeSource`: the server's `TIME` by default, so
    /// workers with skewed clocks count into the same day and hour. Calendar
    /// keys are still named by the caller (Redis Cluster routes a script by
    /// the keys it declares): the tracker names them from `clock` corrected
    /// by the offset the server last reported, and the script refuses, before
    /// writing anything, a window that does not contain the server's now
    /// (`WINDOW`); the tracker then learns the offset and asks again. So a
    /// skewed worker pays one extra round trip, once, and its calls always
    /// land in the server's windows.
    public init(
        client: RedisClient, configuration: APITrackerConfiguration = APITrackerConfiguration(),
        unreachablePolicy: RedisUnreachablePolicy = .failClosed, clock: any WallClock = .system,
        timeSource: RedisTimeSource = .server,
        logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.client = client
        self.configuration = configuration
        self.unreachablePolicy = unreachablePolicy
        self.keys = RedisAPIKeys(keyPrefix: configuration.keyPrefix)
        self.clock = clock
        self.timeSource = timeSource
        self.logger = logger
        self.metrics = APICallMetrics(factory: metricsFactory)
        // A name defined twice is left out, so its calls meet the configuration's error.
        let names = configuration.quotas.map(\.name)
        var statsCommands: [String: StatsCommands] = [:]
        for name in names where names.count(where: { $0 == name }) == 1 {
            statsCommands[name] = StatsCommands(stats: "\(keys.tag(name)):stats")
        }
        self.statsCommands = statsCommands
    }

    /// A quota's stats key, and the `HINCRBY`s that record an outcome in it,
    /// formatted once: they are the same on every call.
    private struct StatsCommands: Sendable {
        let stats: RedisArgument
        let success: RedisCommand
        let failure: RedisCommand

        init(stats: String) {
            self.stats = RedisArgument(stats)
            func hincrby(_ field: String) -> RedisCommand {
                let parts: [RedisArgument] = ["HINCRBY", RedisArgument(stats), RedisArgument(field), 1]
                var bytes: [UInt8] = []
                RESP.append(parts, to: &bytes)
                return RedisCommand(parts: parts, wireBytes: bytes)
            }
            success = hincrby(RedisAPIKeys.StatsField.successful)
            failure = hincrby(RedisAPIKeys.StatsField.failed)
        }
    }

    /// The stats key of quota `name` (the routing key of its scripts in a cluster).
    private func statsKey(_ name: String) -> RedisArgument {
        statsCommands[name]?.stats ?? RedisArgument(quotaKeys(name).stats)
    }

    /// A tracker with its own connections to the server at `url`
    /// (`redis://[user:password@]host[:port][/db]` or `unix:///path`).
    /// Opens no connection yet. Build one ``RedisClient`` and pass it to both
    /// trackers instead when they should share a pool. The client's pool is
    /// named `name` and its metrics, like the tracker's, go to `metricsFactory`.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidConfiguration` for a malformed URL
    ///   (`rediss://` connects over TLS; see ``RedisConnectionConfiguration/tls``).
    public convenience init(
        url: String, configuration: APITrackerConfiguration = APITrackerConfiguration(),
        unreachablePolicy: RedisUnreachablePolicy = .failClosed,
        pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration, clock: any WallClock = .system,
        name: String = "scalekit.redis", logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ScaleKitError) {
        self.init(
            client: try RedisClient(url: url, pool: pool, name: name, logger: logger, metricsFactory: metricsFactory),
            configuration: configuration, unreachablePolicy: unreachablePolicy, clock: clock, logger: logger,
            metricsFactory: metricsFactory)
    }

    /// Every quota: the default first, then the configured ones.
    public var quotas: [Quota] { configuration.quotas }

    /// Atomically checks every limit of the quota and counts the call: one
    /// `EVALSHA`, one round trip, whatever the number of limits.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidArgument` for a bad request;
    ///   `connectionFailed`, `timeout` or `poolExhausted` when Redis is
    ///   unreachable (unless fail-open, which allows the call uncounted and
    ///   without a receipt); `corruptData` when a stored value is not a whole
    ///   number (checked before anything is written, so nothing is counted);
    ///   `serverError` when Redis refuses the script.
    ///
    /// Traced as `api_tracker.check_and_count` with the quota, the decision and the limit that denied.
    public func checkAndCount(_ request: QuotaRequest) async throws -> QuotaDecision {
        try await traced(request) { try await self.count(request, hold: nil) }
    }

    /// ``checkAndCount(_:)`` that also holds the units as a reservation until
    /// confirmed, refunded, or `holdFor` passes on the ``timeSource`` clock.
    public func reserve(_ request: QuotaRequest, holdFor: Duration) async throws -> QuotaDecision {
        let hold = holdFor.milliseconds
        guard (1...31 * 86_400_000).contains(hold) else {
            throw ScaleKitError(.invalidArgument, "a reservation must be held for 1 ms…31 days, not \(holdFor)")
        }
        return try await traced(request) { try await self.count(request, hold: hold) }
    }

    private func traced(_ request: QuotaRequest, _ body: @escaping @Sendable () async throws -> QuotaDecision) async throws -> QuotaDecision {
        try await ScaleKitSpan.run("api_tracker.check_and_count") { span in
            client.configuration.describe(span, operation: "EVALSHA")
            span.set("scalekit.api.quota", request.quota)
            let decision = try await body()
            metrics.record(decision, quota: request.quota)
            span.set("scalekit.api.allowed", decision.isAllowed)
            if let deniedBy = decision.deniedBy { span.set("scalekit.api.denied_by", deniedBy) }
            return decision
        }
    }

    private var clockArgument: RedisArgument {
        timeSource == .server ? RedisArgument("") : RedisArgument(Int(clock.now().timeIntervalSince1970 * 1000))
    }

    private func quotaKeys(_ quota: String) -> (stats: String, reservations: String, reserved: String, settled: String) {
        let tag = keys.tag(quota)
        return ("\(tag):stats", "\(tag):reservations", "\(tag):reserved", "\(tag):settled:")
    }

    /// Runs the check script in `mode` for `plan`. With `checkingWindows`,
    /// the script refuses (`WINDOW`) calendar windows that do not contain
    /// the server's now; without, it counts in the plan's windows as given.
    private func run(
        _ plan: QuotaPlan, mode: String, cost: Int, hold: Int64?, id: String, checkingWindows: Bool = true
    ) async throws -> RedisValue {
        let (scriptKeys, arguments) = checkCall(plan, mode: mode, cost: cost, hold: hold, id: id, checkingWindows: checkingWindows)
        return try await runCheck(plan) { executor in
            try await executor.evaluate(RedisAPITrackerScripts.checkAndCount, keys: scriptKeys, arguments: arguments)
        }
    }

    /// Runs a prepared check (``PreparedCheck``) with the receipt id `id`.
    private func run(_ prepared: PreparedCheck, id: String) async throws -> RedisValue {
        try await runCheck(prepared.plan) { executor in try await executor.evaluate(prepared.call, varying: id) }
    }

    private func runCheck(
        _ plan: QuotaPlan, _ body: (any RedisCommandExecutor) async throws -> RedisValue
    ) async throws -> RedisValue {
        do {
            return try await client.withExecutor(routingKey: statsKey(plan.quota.name), body)
        } catch let error as ScaleKitError where error.nativeCode == "CORRUPT" {
            // The script checked the stored values before its first write: nothing was counted.
            throw ScaleKitError(
                .corruptData, "an API tracker value under \(keys.tag(plan.quota.name)) is corrupt; nothing was counted: \(error.message)",
                nativeCode: "CORRUPT")
        }
    }

    /// The check script's keys and arguments for `plan` (the receipt id is argument 4).
    private func checkCall(
        _ plan: QuotaPlan, mode: String, cost: Int, hold: Int64?, id: String, checkingWindows: Bool
    ) -> (keys: [RedisArgument], arguments: [RedisArgument]) {
        let names = quotaKeys(plan.quota.name)
        // Appended into arrays sized once: this runs on every call.
        var arguments: [RedisArgument] = []
        arguments.reserveCapacity(8 + 5 * plan.entries.count)
        arguments.append(RedisArgument(mode))
        arguments.append(RedisArgument(cost))
        arguments.append(clockArgument)
        arguments.append(RedisArgument(Int(hold ?? 0)))
        arguments.append(RedisArgument(id))
        arguments.append(RedisArgument(names.settled))
        arguments.append(RedisArgument(plan.longestLifetimeSeconds))
        arguments.append(RedisArgument(plan.entries.count))
        for entry in plan.entries {
            if let calendar = entry.calendar {
                arguments.append(RedisArgument("c"))
                arguments.append(RedisArgument(entry.limit.count))
                arguments.append(RedisArgument(entry.lifetimeSeconds))
                arguments.append(checkingWindows ? RedisArgument(Self.milliseconds(calendar.start)) : RedisArgument("-"))
                arguments.append(RedisArgument(Self.milliseconds(calendar.end)))
            } else if let rolling = entry.rolling {
                arguments.append(RedisArgument("r"))
                arguments.append(RedisArgument(entry.limit.count))
                arguments.append(RedisArgument(Int(rolling.length)))
                arguments.append(RedisArgument(Int(rolling.bucket)))
                arguments.append(RedisArgument(0))
            }
        }
        var scriptKeys: [RedisArgument] = []
        scriptKeys.reserveCapacity(3 + plan.entries.count)
        for name in [names.stats, names.reservations, names.reserved] { scriptKeys.append(RedisArgument(name)) }
        for entry in plan.entries { scriptKeys.append(RedisArgument(keys.key(plan.quota.name, entry.storageKey))) }
        return (scriptKeys, arguments)
    }

    /// The check call of one quota, key and cost while its calendar windows
    /// last: the plan and the formatted `EVALSHA`, made once per window
    /// instead of on every call (see ``preparedCheck(_:at:)``).
    private struct PreparedCheck: Sendable {
        let plan: QuotaPlan
        let call: RedisPreparedScriptCall
        /// The span, in milliseconds on the window clock, in which every calendar window of the plan holds.
        let validFrom: Int64
        let validUntil: Int64
    }

    private struct PreparedCheckKey: Hashable, Sendable {
        let quota: String
        let key: String?
        let cost: Int
    }

    /// How many prepared checks are kept (one per quota, key and cost in use); beyond it the cache starts again.
    private static let preparedCheckLimit = 1024

    /// The prepared check of `request` at `now` (the window clock), made
    /// now when none holds. Only with the server's clock deciding: with
    /// ``RedisTimeSource/local`` every call sends its own clock reading.
    private func preparedCheck(_ request: QuotaRequest, at now: Date) throws -> PreparedCheck? {
        guard timeSource == .server else { return nil }
        let instant = Self.milliseconds(now)
        let cacheKey = PreparedCheckKey(quota: request.quota, key: request.key, cost: request.cost)
        if let cached = preparedChecks.withLock({ $0[cacheKey] }), cached.validFrom <= instant, instant < cached.validUntil {
            return cached
        }
        let quota = try configuration.quota(named: request.quota)
        guard (1...APILimits.maximumCount).contains(request.cost) else { return nil }  // refused by the caller
        let plan = try QuotaPlan(quota: quota, key: request.key, at: now)
        let (scriptKeys, arguments) = checkCall(
            plan, mode: "check", cost: request.cost, hold: nil, id: ReceiptID.next(), checkingWindows: true)
        var validFrom = Int64.min, validUntil = Int64.max
        for window in plan.entries.compactMap(\.calendar) {
            validFrom = max(validFrom, Int64(Self.milliseconds(window.start)))
            validUntil = min(validUntil, Int64(Self.milliseconds(window.end)))
        }
        let prepared = PreparedCheck(
            plan: plan,
            call: RedisPreparedScriptCall(script: RedisAPITrackerScripts.checkAndCount, keys: scriptKeys, arguments: arguments, varyingIndex: 4),
            validFrom: validFrom, validUntil: validUntil)
        preparedChecks.withLock { cache in
            if cache.count >= Self.preparedCheckLimit { cache.removeAll(keepingCapacity: true) }
            cache[cacheKey] = prepared
        }
        return prepared
    }

    private func count(_ request: QuotaRequest, hold: Int64?) async throws -> QuotaDecision {
        var now = windowClockNow()
        let prepared = hold == nil ? try preparedCheck(request, at: now) : nil
        let quota = try prepared?.plan.quota ?? configuration.quota(named: request.quota)
        guard (1...APILimits.maximumCount).contains(request.cost) else {
            throw ScaleKitError(.invalidArgument, "a call's cost must be within 1…\(APILimits.maximumCount), not \(request.cost)")
        }
        let id = ReceiptID.next()
        var plan = try prepared?.plan ?? QuotaPlan(quota: quota, key: request.key, at: now)
        let reply: RedisValue
        do {
            (reply, now, plan) = try await runInServerWindows(quota: quota, key: request.key, readingOnly: false, at: now, plan) {
                plan, checking in
                // The first attempt runs in the windows of `now`, which the prepared check is for.
                if checking, let prepared { return try await self.run(prepared, id: id) }
                return try await self.run(
                    plan, mode: hold == nil ? "check" : "reserve", cost: request.cost, hold: hold, id: id, checkingWindows: checking)
            }
        } catch let error as ScaleKitError where unreachablePolicy == .failOpen && Self.isUnreachable(error) {
            logger.warning(
                "Redis unreachable; allowing the API call uncounted (fail-open)",
                metadata: ["server": "\(client.configuration)", "quota": "\(quota.name)", "error": "\(error)"])
            return QuotaDecision(isAllowed: true, deniedBy: nil, retryAt: nil, usage: Self.unknownUsage(plan), receipt: nil)
        }
        let parsed = try parse(reply, plan)
        guard parsed.allowed else {
            let refusals = parsed.retries.enumerated().filter { $0.element != -2 }
            let worst = refusals.first { $0.element == -1 } ?? refusals.max { $0.element < $1.element }
            let retryAt = worst.flatMap { $0.element >= 0 ? Date(timeIntervalSince1970: Double($0.element) / 1000) : nil }
            return QuotaDecision(
                isAllowed: false, deniedBy: worst.map { plan.entries[$0.offset].limit.name }, retryAt: retryAt, usage: parsed.usage, receipt: nil)
        }
        let receipt = QuotaReceipt(
            id: id, quota: quota.name, key: request.key, cost: request.cost,
            calendarAt: Int64((now.timeIntervalSince1970 * 1000).rounded(.down)), rollingAt: parsed.now,
            reservedUntil: hold.map { parsed.now + $0 })
        return QuotaDecision(isAllowed: true, deniedBy: nil, retryAt: nil, usage: parsed.usage, receipt: receipt)
    }

    private func parse(_ reply: RedisValue, _ plan: QuotaPlan) throws(ScaleKitError) -> (allowed: Bool, now: Int64, usage: QuotaUsage, retries: [Int64]) {
        guard let numbers = reply.array?.compactMap(\.integer), numbers.count == 7 + 3 * plan.entries.count else {
            throw ScaleKitError(.corruptData, "the API tracker script returned an unexpected reply: \(reply)")
        }
        let totals = QuotaTotals(
            calls: Int(numbers[2]), denied: Int(numbers[3]), successes: Int(numbers[4]), failures: Int(numbers[5]), refunds: Int(numbers[6]))
        var statuses: [QuotaLimitStatus] = []
        var retries: [Int64] = []
        for (index, entry) in plan.entries.enumerated() {
            let used = Int(numbers[7 + 3 * index]), newest = numbers[9 + 3 * index]
            retries.append(numbers[8 + 3 * index])
            var resetsAt = entry.calendar?.end
            if let rolling = entry.rolling, used > 0, newest >= 0 {
                resetsAt = Date(timeIntervalSince1970: Double((newest + 1) * rolling.bucket + rolling.length) / 1000)
            }
            statuses.append(QuotaLimitStatus(
                name: entry.limit.name, window: entry.limit.window.label, perKey: entry.limit.perKey, limit: entry.limit.count,
                used: used, resetsAt: resetsAt))
        }
        return (numbers[0] == 1, numbers[1], QuotaUsage(quota: plan.quota.name, key: plan.key, limits: statuses, totals: totals), retries)
    }

    /// Gives a receipt's units back, exactly once (one script: a settled
    /// mark set with `NX`, then the counters and buckets decremented, never below zero).
    public func refund(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        try receipt.validate()
        let quota = try configuration.quota(named: receipt.quota)
        let plan = try QuotaPlan(quota: quota, key: receipt.key, at: Date(timeIntervalSince1970: Double(receipt.calendarAt) / 1000))
        let lifetime = Int64(plan.longestLifetimeSeconds) * 1000
        guard Int64(windowClockNow().timeIntervalSince1970 * 1000) < receipt.calendarAt + lifetime else { return .expired }
        let names = quotaKeys(quota.name)
        let scriptKeys = [names.stats, names.reservations, names.reserved, names.settled + receipt.id].map { RedisArgument($0) }
            + plan.entries.map { RedisArgument(keys.key(quota.name, $0.storageKey)) }
        let buckets = plan.entries.map { entry in
            entry.rolling.map { RedisArgument(String(Self.floorDivide(receipt.rollingAt, $0.bucket))) } ?? RedisArgument("")
        }
        let reply = try await client.withExecutor(routingKey: scriptKeys[0]) { executor in
            try await executor.evaluate(
                RedisAPITrackerScripts.refund, keys: scriptKeys,
                arguments: [RedisArgument(receipt.cost), RedisArgument(plan.longestLifetimeSeconds), RedisArgument(receipt.id)] + buckets)
        }
        return reply.integer == 1 ? .settled : .alreadySettled
    }

    /// Keeps a reservation's units for good (one script).
    public func confirm(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        try receipt.validate()
        guard let until = receipt.reservedUntil else {
            throw ScaleKitError(.invalidArgument, "the receipt is not a reservation: there is nothing to confirm")
        }
        let quota = try configuration.quota(named: receipt.quota)
        let plan = try QuotaPlan(quota: quota, key: receipt.key, at: Date(timeIntervalSince1970: Double(receipt.calendarAt) / 1000))
        let names = quotaKeys(quota.name)
        let reply = try await client.withExecutor(routingKey: RedisArgument(names.stats)) { executor in
            try await executor.evaluate(
                RedisAPITrackerScripts.confirm, keys: [names.stats, names.reservations, names.reserved].map { RedisArgument($0) },
                arguments: [RedisArgument(receipt.id), self.clockArgument, RedisArgument(names.settled), RedisArgument(plan.longestLifetimeSeconds)])
        }
        guard let numbers = reply.array?.compactMap(\.integer), numbers.count == 2 else {
            throw ScaleKitError(.corruptData, "the confirm script returned an unexpected reply: \(reply)")
        }
        if numbers[0] == 1 { return .settled }
        return numbers[1] >= until ? .expired : .alreadySettled
    }

    /// Sets one limit's current count to `limit - remaining` (one script), then reads the quota.
    public func reconcile(quota name: String, limit: String, key: String?, remaining: Int) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        // A read first, so the calendar window set is the server's (it learns the offset).
        if timeSource == .server { _ = try await usage(quota: name, key: key) }
        let plan = try QuotaPlan(quota: quota, key: key, at: windowClockNow(), readingOnly: true)
        guard let entry = plan.entries.first(where: { $0.limit.name == limit }) else {
            if quota.limit(named: limit)?.perKey == true {
                throw ScaleKitError(.invalidArgument, "limit \(limit) of quota \(name) is per key: name the key")
            }
            throw ScaleKitError(.invalidArgument, "quota \(name) has no limit named \(limit.debugDescription)")
        }
        guard (0...APILimits.maximumCount).contains(remaining) else {
            throw ScaleKitError(.invalidArgument, "remaining \(remaining) is outside 0…\(APILimits.maximumCount)")
        }
        let used = max(0, entry.limit.count - remaining)
        let arguments: [RedisArgument] = entry.rolling.map {
            [RedisArgument("r"), RedisArgument(used), RedisArgument(Int($0.length)), RedisArgument(Int($0.bucket)), clockArgument]
        } ?? [RedisArgument("c"), RedisArgument(used), RedisArgument(entry.lifetimeSeconds), RedisArgument(0), RedisArgument("")]
        let target = RedisArgument(keys.key(name, entry.storageKey))
        _ = try await client.withExecutor(routingKey: target) { executor in
            try await executor.evaluate(RedisAPITrackerScripts.reconcile, keys: [target], arguments: arguments)
        }
        return try await usage(quota: name, key: key)
    }

    /// Every limit of a quota as it stands (the check script in its read-only mode).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` when Redis is unreachable (also when fail-open:
    ///   there is no honest number to return) or a counter is not a number.
    public func usage(quota name: String, key: String?) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = windowClockNow()
        let (reply, _, plan) = try await runInServerWindows(
            quota: quota, key: key, readingOnly: true, at: now, try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        ) { plan, checking in
            try await self.run(plan, mode: "usage", cost: 1, hold: nil, id: "", checkingWindows: checking)
        }
        return try parse(reply, plan).usage
    }

    /// The instant calendar windows are named from: `clock`, corrected by
    /// the server's offset when the server's clock decides.
    private func windowClockNow() -> Date {
        let now = clock.now()
        guard timeSource == .server else { return now }
        return now.addingTimeInterval(Double(serverClockOffset.load(ordering: .relaxed)) / 1000)
    }

    /// Runs `body` with `plan`, the script checking its calendar windows.
    /// When it answers `WINDOW <server ms>` (they do not contain the server's
    /// now: this worker's clock is off), learns the offset and runs `body`
    /// once more with the windows of that server instant, unchecked: the
    /// call counts where the server's clock was when it first saw the call,
    /// however long the second round trip takes (a calendar second on a
    /// loaded machine would otherwise never be hit).
    private func runInServerWindows(
        quota: Quota, key: String?, readingOnly: Bool, at now: Date, _ plan: QuotaPlan,
        _ body: @Sendable (QuotaPlan, _ checkingWindows: Bool) async throws -> RedisValue
    ) async throws -> (RedisValue, Date, QuotaPlan) {
        do {
            return (try await body(plan, true), now, plan)
        } catch let error as ScaleKitError where error.nativeCode == "WINDOW" {
            guard let serverMilliseconds = error.message.split(separator: " ").last.flatMap({ Int64($0) }) else { throw error }
            let offset = serverMilliseconds - Int64((clock.now().timeIntervalSince1970 * 1000).rounded(.down))
            serverClockOffset.store(offset, ordering: .relaxed)
            logger.debug("calendar windows follow the Redis server's clock", metadata: ["offset_ms": "\(offset)"])
            let serverNow = Date(timeIntervalSince1970: Double(serverMilliseconds) / 1000)
            let serverPlan = try QuotaPlan(quota: quota, key: key, at: serverNow, readingOnly: readingOnly)
            return (try await body(serverPlan, false), serverNow, serverPlan)
        }
    }

    /// Adds one to `successful_requests` or `failed_requests` of a quota (one `HINCRBY`).
    ///
    /// - Throws: as ``checkAndCount(_:)``; fail-open drops the outcome with a warning instead.
    public func recordOutcome(_ outcome: APICallOutcome, quota name: String) async throws {
        // A configured quota's commands are ready; any other name gets the configuration's error.
        let commands = try statsCommands[name] ?? StatsCommands(stats: quotaKeys(configuration.quota(named: name).name).stats)
        let command = outcome == .success ? commands.success : commands.failure
        do {
            try await client.withExecutor(routingKey: commands.stats) { executor in
                if case .error(let error) = try await executor.pipeline([command])[0] { throw error.scaleKitError }
            }
        } catch let error as ScaleKitError where unreachablePolicy == .failOpen && Self.isUnreachable(error) {
            logger.warning(
                "Redis unreachable; API call outcome not recorded (fail-open)",
                metadata: ["server": "\(client.configuration)", "outcome": "\(outcome.rawValue)", "error": "\(error)"])
        }
    }

    /// Whole milliseconds since 1970, rounded down (window bounds are whole seconds).
    static func milliseconds(_ date: Date) -> Int {
        Int((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    static func isUnreachable(_ error: ScaleKitError) -> Bool {
        [.connectionFailed, .timeout, .poolExhausted].contains(error.code)
    }

    private static func unknownUsage(_ plan: QuotaPlan) -> QuotaUsage {
        QuotaUsage(
            quota: plan.quota.name, key: plan.key,
            limits: plan.entries.map {
                QuotaLimitStatus(name: $0.limit.name, window: $0.limit.window.label, perKey: $0.limit.perKey, limit: $0.limit.count,
                                 used: 0, resetsAt: $0.calendar?.end)
            },
            totals: QuotaTotals())
    }
}
