import Dispatch
import Foundation
public import Metrics

/// An ``APITracking`` that keeps its counters in a JSON file, safe across
/// the processes of one machine.
///
/// The embedded default when there is no Redis (the seed's development-mode
/// `api_usage.json`, fixed): every operation takes an exclusive `flock` on a
/// sibling lock file (`<path>.lock`), reads the file, changes it, writes a
/// temporary file, `fsync`s it and renames it over the original. A crash
/// never leaves a half-written file, and no two processes interleave.
///
/// A file that exists but cannot be read or decoded is a
/// ``ScaleKitError/Code/corruptData`` error, never a silent reset to zero;
/// the file is left as it is for an operator to inspect.
///
/// Blocking file work runs on a dispatch queue, off Swift's cooperative pool.
public final class FileAPITracker: APITracking {
    /// The counters file, as given. A symbolic link is resolved on first use
    /// and its target is what is locked (`<target>.lock`) and replaced.
    public let path: String
    /// The limits, windows and quotas this tracker enforces.
    public let configuration: APITrackerConfiguration
    private let clock: any WallClock
    private let queue = DispatchQueue(label: "scalekit.file-api-tracker")
    /// ``path`` with links resolved, set once on the queue by the first operation.
    private let resolved = SanitizerVisibleMutex<String?>(nil)
    private let metrics: APICallMetrics

    /// - Parameters:
    ///   - path: the counters file; its folder must exist.
    ///   - configuration: the limits and the names of the windows.
    ///   - clock: what decides the current day and hour (tests pass a manual one).
    ///   - metricsFactory: where the allowed and denied counters go (Docs/Operations.md).
    public init(
        path: String, configuration: APITrackerConfiguration = APITrackerConfiguration(), clock: any WallClock = .system,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.path = path
        self.configuration = configuration
        self.clock = clock
        self.metrics = APICallMetrics(factory: metricsFactory)
    }

    /// Every quota: the default first, then the configured ones.
    public var quotas: [Quota] { configuration.quotas }

    /// Checks every limit of the quota and counts the call under the file lock.
    ///
    /// Traced as `api_tracker.check_and_count` (`scalekit.backend=file`),
    /// with the quota, the decision and the limit that denied.
    public func checkAndCount(_ request: QuotaRequest) async throws -> QuotaDecision {
        try await traced(request) { try await self.count(request, reserveFor: nil) }
    }

    /// Counts the call like ``checkAndCount(_:)`` and holds the units for
    /// `holdFor` unless ``confirm(_:)`` keeps them or ``refund(_:)`` releases
    /// them first; under the file lock, so atomic across processes.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for a malformed request,
    ///   `ioError` or `corruptData` for the file.
    public func reserve(_ request: QuotaRequest, holdFor: Duration) async throws -> QuotaDecision {
        try await traced(request) { try await self.count(request, reserveFor: holdFor) }
    }

    private func traced(_ request: QuotaRequest, _ body: @escaping @Sendable () async throws -> QuotaDecision) async throws -> QuotaDecision {
        try await ScaleKitSpan.run("api_tracker.check_and_count", kind: .internal) { span in
            span.set("scalekit.backend", "file")
            span.set("scalekit.api.quota", request.quota)
            let decision = try await body()
            metrics.record(decision, quota: request.quota)
            span.set("scalekit.api.allowed", decision.isAllowed)
            if let deniedBy = decision.deniedBy { span.set("scalekit.api.denied_by", deniedBy) }
            return decision
        }
    }

    private func count(_ request: QuotaRequest, reserveFor: Duration?) async throws(ScaleKitError) -> QuotaDecision {
        let quota = try configuration.quota(named: request.quota)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: request.key, at: now)
        let until = try reserveFor.map { (hold) throws(ScaleKitError) in try InMemoryAPITracker.deadline(now, hold) }
        let cost = request.cost
        try QuotaLedger.validateCost(cost)
        return try await update(quota, now) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.checkAndCount(plan, cost: cost, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds, reserveUntil: until)
        }
    }

    /// Keeps a reservation's units for good, under the file lock; a receipt
    /// already settled is reported, not counted twice.
    ///
    /// - Throws: ``ScaleKitError`` `ioError` or `corruptData` for the file.
    public func confirm(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        let quota = try configuration.quota(named: receipt.quota)
        let now = clock.now()
        return try await update(quota, now) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.confirm(receipt, quota: quota, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
        }
    }

    /// Gives a receipt's units back to the windows that still hold them, under
    /// the file lock; a receipt already settled is reported, not refunded twice.
    ///
    /// - Throws: ``ScaleKitError`` `ioError` or `corruptData` for the file.
    public func refund(_ receipt: QuotaReceipt) async throws -> QuotaSettlement {
        let quota = try configuration.quota(named: receipt.quota)
        let now = clock.now()
        return try await update(quota, now) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.refund(receipt, quota: quota, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
        }
    }

    /// Sets a limit's current count from the API's own `remaining` figure
    /// (`limit - remaining`, at least 0), under the file lock.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota or
    ///   limit, `ioError` or `corruptData` for the file.
    public func reconcile(quota name: String, limit: String, key: String?, remaining: Int) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        return try await update(quota, now) { (ledger: inout QuotaLedger) throws(ScaleKitError) in
            try ledger.reconcile(plan, limit: limit, remaining: remaining, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
        }
    }

    /// Adds a call's outcome to the quota's totals, under the file lock.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota,
    ///   `ioError` or `corruptData` for the file.
    public func recordOutcome(_ outcome: APICallOutcome, quota name: String) async throws {
        let quota = try configuration.quota(named: name)
        try await update(quota, clock.now()) { (ledger: inout QuotaLedger) throws(ScaleKitError) in try ledger.recordOutcome(outcome) }
    }

    /// Every limit of the quota for `key`, and its totals, as the file holds
    /// them now.
    ///
    /// - Throws: ``ScaleKitError`` `invalidArgument` for an unknown quota or a
    ///   missing key, `ioError` or `corruptData` for the file.
    public func usage(quota name: String, key: String?) async throws -> QuotaUsage {
        let quota = try configuration.quota(named: name)
        let now = clock.now()
        let plan = try QuotaPlan(quota: quota, key: key, at: now, readingOnly: true)
        return try await runBlocking(on: queue) { () throws(ScaleKitError) -> QuotaUsage in
            let path = try self.resolvedPath()
            return try FileLock.withExclusiveLock(on: path + ".lock") { () throws(ScaleKitError) -> QuotaUsage in
                var ledger = try FileCounters.read(from: path).ledger(quota.name, now: now)
                ledger.expire(quota, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
                return ledger.usage(plan, rollingNow: now.quotaMilliseconds)
            }
        }
    }

    /// Locks, reads, applies `change` to the quota's ledger, writes atomically, unlocks.
    @discardableResult
    private func update<T: Sendable>(
        _ quota: Quota, _ now: Date, _ change: @escaping @Sendable (inout QuotaLedger) throws(ScaleKitError) -> T
    ) async throws(ScaleKitError) -> T {
        return try await runBlocking(on: queue) { () throws(ScaleKitError) -> T in
            let path = try self.resolvedPath()
            return try FileLock.withExclusiveLock(on: path + ".lock") { () throws(ScaleKitError) -> T in
                var file = try FileCounters.read(from: path)
                var ledger = file.ledger(quota.name, now: now)
                let result = try change(&ledger)  // a refused change writes nothing
                ledger.expire(quota, now: now.quotaMilliseconds, rollingNow: now.quotaMilliseconds)
                file.setLedger(ledger, for: quota.name)
                try file.write(to: path)
                return result
            }
        }
    }
}

extension FileAPITracker {
    /// Decodes a tracker file's bytes exactly as the tracker reads them, then
    /// counts one call and one outcome in memory, for the fuzzer: it must
    /// return or throw ``ScaleKitError``, never trap.
    @_spi(Fuzzing)
    public static func fuzzFileContents(_ bytes: [UInt8]) throws(ScaleKitError) -> APIUsage {
        var counters = try FileCounters.decode(Data(bytes), path: "fuzz input")
        let now = Date(timeIntervalSince1970: 0)
        let quota = Quota.rapidAPI(.default)
        var ledger = counters.ledger(quota.name, now: now)
        let plan = try QuotaPlan(quota: quota, key: nil, at: now)
        _ = try ledger.checkAndCount(plan, cost: 1, now: 0, rollingNow: 0)
        try ledger.recordOutcome(.success)
        counters.setLedger(ledger, for: quota.name)
        return APIUsage(ledger.usage(plan, rollingNow: 0))
    }

    /// Resolves ``path`` on the first call and returns the same target ever after.
    @available(*, noasync, message: "blocks the thread; call it from a dispatch queue")
    fileprivate func resolvedPath() throws(ScaleKitError) -> String {
        if let known = resolved.withLock({ $0 }) { return known }
        let target = try TrackerFilePath.resolve(path)
        resolved.withLock { $0 = target }
        return target
    }
}

/// The file's contents. The default quota keeps the seed's layout at the
/// top level (`windows` with `day:2026-11-29`-style names, `total_requests`,
/// …), so older readers still understand it; every other quota is a
/// ledger under `quotas`.
struct FileCounters: Codable {
    var version = 1
    var windows: [String: Int] = [:]
    var windowExpiries: [String: Int64]?
    var totalCalls = 0
    var successes = 0
    var failures = 0
    var denied = 0
    var refunds: Int?
    var settled: [String: Int64]?
    var reservations: [String: QuotaReceipt]?
    var quotas: [String: QuotaLedger]?

    enum CodingKeys: String, CodingKey {
        case version, windows, settled, reservations, quotas
        case windowExpiries = "window_expiries"
        case totalCalls = "total_requests"
        case successes = "successful_requests"
        case failures = "failed_requests"
        case denied = "denied_requests"
        case refunds = "refunded_requests"
    }

    /// The largest count the file holds: 2^53 − 1, the largest whole number
    /// every JSON reader (and Redis's Lua) represents exactly.
    static let maximumCount = APILimits.maximumCount

    /// Every number in the file with the name an operator sees in it.
    var numberedFields: [(String, Int)] {
        [("total_requests", totalCalls), ("successful_requests", successes), ("failed_requests", failures), ("denied_requests", denied),
         ("refunded_requests", refunds ?? 0)]
            + windows.sorted { $0.key < $1.key }.map { ("windows[\"\($0.key)\"]", $0.value) }
            + (quotas ?? [:]).sorted { $0.key < $1.key }.flatMap { name, ledger in
                ledger.numberedFields.map { ("quotas[\"\(name)\"].\($0.0)", $0.1) }
            }
    }

    /// The ledger of quota `name`; a window without a recorded expiry (a
    /// file from before named quotas) is kept two days from `now`.
    func ledger(_ name: String, now: Date) -> QuotaLedger {
        guard name == Quota.defaultName else { return quotas?[name] ?? QuotaLedger() }
        var ledger = QuotaLedger()
        let fallback = now.quotaMilliseconds + 2 * 86_400_000
        ledger.counters = windows.reduce(into: [:]) { $0[$1.key] = QuotaLedger.Count(count: $1.value, expiresAt: windowExpiries?[$1.key] ?? fallback) }
        ledger.totals = QuotaTotals(calls: totalCalls, denied: denied, successes: successes, failures: failures, refunds: refunds ?? 0)
        ledger.settled = settled ?? [:]
        ledger.reservations = reservations ?? [:]
        return ledger
    }

    mutating func setLedger(_ ledger: QuotaLedger, for name: String) {
        guard name == Quota.defaultName else {
            var all = quotas ?? [:]
            all[name] = ledger
            quotas = all
            return
        }
        windows = ledger.counters.mapValues(\.count)
        windowExpiries = ledger.counters.mapValues(\.expiresAt)
        totalCalls = ledger.totals.calls
        successes = ledger.totals.successes
        failures = ledger.totals.failures
        denied = ledger.totals.denied
        refunds = ledger.totals.refunds == 0 ? nil : ledger.totals.refunds
        settled = ledger.settled.isEmpty ? nil : ledger.settled
        reservations = ledger.reservations.isEmpty ? nil : ledger.reservations
    }

    static func read(from path: String) throws(ScaleKitError) -> FileCounters {
        guard let data = try TrackerFilePath.contents(path) else { return FileCounters() }
        return try decode(data, path: path)
    }

    /// Decodes and range-checks a tracker file's bytes.
    static func decode(_ data: Data, path: String) throws(ScaleKitError) -> FileCounters {
        do {
            let counters = try JSONDecoder().decode(FileCounters.self, from: data)
            guard counters.version == 1 else {
                throw ScaleKitError(.corruptData, "API tracker file \(path) has unknown version \(counters.version)")
            }
            // Every number is range-checked here, where it enters, so no
            // later `+ 1` or conversion can trap on a hand-edited file.
            let receipts = (counters.reservations ?? [:]).values + (counters.quotas ?? [:]).values.flatMap(\.reservations.values)
            for receipt in receipts {
                do { try receipt.validate() } catch {
                    throw ScaleKitError(.corruptData, "API tracker file \(path) holds a malformed reservation; it was left untouched: fix or remove it")
                }
            }
            for (field, value) in counters.numberedFields where !(0...maximumCount).contains(value) {
                throw ScaleKitError(
                    .corruptData,
                    "API tracker file \(path) holds \(field) = \(value), outside 0…\(maximumCount); it was left untouched: fix or remove it")
            }
            return counters
        } catch let error as ScaleKitError {
            throw error
        } catch {
            throw ScaleKitError(
                .corruptData,
                "API tracker file \(path) is corrupt (\(data.count) bytes); it was left untouched: fix or remove it",
                underlying: error)
        }
    }

    func write(to path: String) throws(ScaleKitError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do { data = try encoder.encode(self) } catch {
            throw ScaleKitError(.ioError, "cannot encode API tracker counters", underlying: error)
        }
        try AtomicFile.write(data, to: path)
    }
}
