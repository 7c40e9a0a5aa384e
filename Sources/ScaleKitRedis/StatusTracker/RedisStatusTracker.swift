import Foundation
import Tracing
public import Logging
public import Metrics
public import ScaleKit

/// A ``/ScaleKit/StatusTracking`` on Redis: one JSON string per job under
/// `processing_status:<job id>` (the seed's key), with a TTL that every write
/// refreshes (24 h unless configured or passed).
///
/// ``mergeStatus(_:for:ttl:)`` is atomic across every process: it merges
/// with ``/ScaleKit/JSONMergePatch`` exactly as ``/ScaleKit/InMemoryStatusTracker``
/// does, into the stored status, and writes the result with a compare-and-set
/// script that stores it only if the status is still the one merged into,
/// retrying (bounded) on the value another writer stored in between, so
/// concurrent merges of different members never lose one another's members.
/// Merges of one job from one process are queued in the process and written
/// together (group commit), so only writers in different processes ever retry.
/// `updated_at` comes from the tracker's clock; expiry from the server's.
///
/// When Redis is unreachable every method throws ``/ScaleKit/ScaleKitError``
/// (`connectionFailed`, `timeout` or `poolExhausted`) within the configured
/// timeouts; nothing is cached or faked.
public final class RedisStatusTracker: StatusTracking {
    /// Default TTL, key prefix and size limits.
    public let configuration: StatusTrackerConfiguration
    /// The connections it uses.
    package let client: RedisClient
    private let clock: any WallClock
    private let logger: Logger
    private let mergeStrategy: RedisStatusMergeStrategy
    /// `scalekit_status_merge_retries_total`: transactions that lost to another writer and were tried again.
    private let mergeRetries: Counter
    /// Merges of one job from this process wait for one another instead of racing.
    private let localWrites = StatusWriteQueue()
    /// The values this tracker last stored, so a merge needs no read first.
    private let knownValues = KnownStatusValues()

    /// How many times a merge is tried when other writers keep changing the same status.
    public static let defaultMaxMergeAttempts = 100

    /// A tracker on a shared ``RedisClient``.
    public convenience init(
        client: RedisClient, configuration: StatusTrackerConfiguration = StatusTrackerConfiguration(),
        clock: any WallClock = .system, logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(
            client: client, configuration: configuration, clock: clock, logger: logger,
            mergeStrategy: .optimisticTransaction(maxAttempts: Self.defaultMaxMergeAttempts), metricsFactory: metricsFactory)
    }

    /// A tracker with its own connections to the server at `url`
    /// (`redis://[user:password@]host[:port][/db]` or `unix:///path`). Opens no connection yet.
    /// Build one ``RedisClient`` and pass it to both trackers instead when they should share a pool.
    /// The client's pool is named `name` and its metrics, like the tracker's, go to `metricsFactory`.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidConfiguration` for a malformed URL
    ///   (`rediss://` connects over TLS; see ``RedisConnectionConfiguration/tls``).
    public convenience init(
        url: String, configuration: StatusTrackerConfiguration = StatusTrackerConfiguration(),
        pool: ConnectionPoolConfiguration = RedisClient.defaultPoolConfiguration, clock: any WallClock = .system,
        name: String = "scalekit.redis", logger: Logger = .current, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ScaleKitError) {
        self.init(
            client: try RedisClient(url: url, pool: pool, name: name, logger: logger, metricsFactory: metricsFactory),
            configuration: configuration, clock: clock, logger: logger, metricsFactory: metricsFactory)
    }

    /// A tracker with a chosen merge strategy, for measurements.
    @_spi(Benchmarks)
    public init(
        client: RedisClient, configuration: StatusTrackerConfiguration, clock: any WallClock, logger: Logger,
        mergeStrategy: RedisStatusMergeStrategy, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.client = client
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.mergeStrategy = mergeStrategy
        self.mergeRetries = Counter(label: "scalekit_status_merge_retries_total", factory: metricsFactory)
    }

    /// The key of a job's status: `processing_status:<job id>`.
    package func key(for jobID: String) -> String { "\(configuration.keyPrefix):\(jobID)" }

    /// Replaces the status (`SET key json PX ttl`), stamping `updated_at`
    /// (and dropping any stored fence).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidArgument` for a bad id, TTL or an
    ///   oversized status; `connectionFailed`/`timeout` when Redis is unreachable.
    public func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?) async throws {
        try await setStatus(status, for: jobID, ttl: ttl, fence: nil)
    }

    /// Replaces the status under `fence` (``/ScaleKit/StatusFence``): the stored fence is
    /// read under `WATCH` and the status written in `MULTI`/`EXEC` only when the
    /// fence is admitted, so no other write lands between the check and the
    /// write. Without a fence, one plain `SET`.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `notClaimHolder` when the fence is refused
    ///   (nothing stored); otherwise as ``setStatus(_:for:ttl:)``.
    public func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws {
        try Identifier.validate(jobID, kind: "job id")
        let ttl = try configuration.resolveTTL(ttl)
        var stamped = status
        stamped.updatedAt = clock.now()
        stamped.fence = nil
        stamped.fields[JobStatus.Member.fence] = nil
        let document = stamped.jsonObject
        try document.validate(limits: configuration.limits)
        let key = key(for: jobID)
        guard let fence else {
            knownValues.forget(key)
            try await client.withExecutor(routingKey: RedisArgument(key)) { executor in
                _ = try await executor.send(
                    "SET", RedisArgument(key), RedisArgument(bytes: Array(document.encoded())), "PX", RedisArgument(Self.milliseconds(ttl)))
            }
            return
        }
        try await ScaleKitSpan.run("status_tracker.set_fenced") { span in
            client.configuration.describe(span, operation: "EVALSHA")
            let write = StatusWriteQueue.Write(
                step: { current throws(ScaleKitError) in
                    try StatusFence.fenced(document, over: current, fence: fence, keepingStored: false, jobID: jobID)
                }, ttl: ttl)
            _ = try await localWrites.write(key, write) { batch in
                try await writeByCompareAndSet(key: key, batch, maxAttempts: Self.defaultMaxMergeAttempts, span: span)
            }
        }
    }

    /// Atomically merges an RFC 7396 patch into the status (absent: `{}`),
    /// stamps `updated_at`, refreshes the TTL and returns the result.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidArgument` (checked before anything
    ///   is sent: bad id, TTL or patch; or a merged status over the size
    ///   limit: nothing stored); `corruptData` when the stored value is not a
    ///   status; `conflict` when other writers won `maxAttempts` times in a
    ///   row (nothing stored); `connectionFailed`/`timeout` when Redis is unreachable.
    @discardableResult
    public func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?) async throws -> JobStatus {
        try await mergeStatus(patch, for: jobID, ttl: ttl, fence: nil)
    }

    /// ``mergeStatus(_:for:ttl:)`` under `fence` (``/ScaleKit/StatusFence``): the stored
    /// fence is checked in the same `WATCH`/`MULTI`/`EXEC` transaction as the
    /// merge (always, whatever the merge strategy), so a refused write stores nothing.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `notClaimHolder` when the fence is refused;
    ///   otherwise as ``mergeStatus(_:for:ttl:)``.
    @discardableResult
    public func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?, fence: StatusFence?) async throws -> JobStatus {
        try await ScaleKitSpan.run("status_tracker.merge") { span in
            // Both strategies write with one script: the Lua merge or the compare-and-set.
            client.configuration.describe(span, operation: "EVALSHA")
            return try await merge(patch, for: jobID, ttl: ttl, fence: fence, span: span)
        }
    }

    private func merge(_ patch: JSONValue, for jobID: String, ttl: Duration?, fence: StatusFence?, span: any Span) async throws -> JobStatus {
        try Identifier.validate(jobID, kind: "job id")
        try JobStatus.validatePatch(patch, limits: configuration.limits)
        let ttl = try configuration.resolveTTL(ttl)
        let stamp: JSONValue = [JobStatus.Member.updatedAt: .string(JobStatus.formatTimestamp(clock.now()))]
        let key = key(for: jobID)
        let merged: JSONValue
        switch (mergeStrategy, fence) {
        case (.luaCJSON, nil):
            merged = try await mergeInScript(patch, stamp: stamp, key: key, ttl: ttl)
        case (.optimisticTransaction(let maxAttempts), _):
            merged = try await mergeByCompareAndSet(
                patch, stamp: stamp, key: key, ttl: ttl, fence: fence, jobID: jobID, maxAttempts: maxAttempts, span: span)
        case (.luaCJSON, _):
            merged = try await mergeByCompareAndSet(
                patch, stamp: stamp, key: key, ttl: ttl, fence: fence, jobID: jobID, maxAttempts: Self.defaultMaxMergeAttempts, span: span)
        }
        return try JobStatus(jsonObject: merged)
    }

    /// The stored status, or `nil` (`GET`).
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidArgument` for a bad id, `corruptData`
    ///   when the stored value is not a status, `connectionFailed`/`timeout`.
    public func status(for jobID: String) async throws -> JobStatus? {
        try Identifier.validate(jobID, kind: "job id")
        let key = key(for: jobID)
        let reply = try await client.withExecutor(routingKey: RedisArgument(key)) { executor in try await executor.send("GET", RedisArgument(key)) }
        guard let document = try decodeStored(reply, key: key) else { return nil }
        return try JobStatus(jsonObject: document)
    }

    /// Removes the status (`DEL`); returns whether there was one.
    ///
    /// - Throws: ``/ScaleKit/ScaleKitError`` `invalidArgument` for a bad id, `connectionFailed`/`timeout`.
    @discardableResult
    public func deleteStatus(for jobID: String) async throws -> Bool {
        try Identifier.validate(jobID, kind: "job id")
        let key = key(for: jobID)
        knownValues.forget(key)
        let reply = try await client.withExecutor(routingKey: RedisArgument(key)) { executor in try await executor.send("DEL", RedisArgument(key)) }
        return (reply.integer ?? 0) > 0
    }

    // MARK: - Merging

    private enum TransactionOutcome: Sendable {
        case stored(JSONValue)
        case conflict
    }

    private func mergeByCompareAndSet(
        _ patch: JSONValue, stamp: JSONValue, key: String, ttl: Duration, fence: StatusFence?, jobID: String, maxAttempts: Int,
        span: any Span
    ) async throws -> JSONValue {
        let write = StatusWriteQueue.Write(
            step: { stored throws(ScaleKitError) in
                let merged = JSONMergePatch.apply(stamp, to: JSONMergePatch.apply(patch, to: stored ?? .object([:])))
                return try StatusFence.fenced(merged, over: stored, fence: fence, keepingStored: true, jobID: jobID)
            }, ttl: ttl)
        return try await localWrites.write(key, write) { batch in
            try await writeByCompareAndSet(key: key, batch, maxAttempts: maxAttempts, span: span)
        }
    }

    /// Applies the batch's writes in order to the stored status (a write that
    /// refuses, by throwing or by growing the status over the size limit,
    /// fails alone and the next one sees the status as it was), then stores
    /// the result, with the TTL of the last write that succeeded, through the
    /// compare-and-set script: only if the stored value is still the one the
    /// writes were applied to. The stored value is the one this tracker last
    /// wrote or read (a `GET` the first time); when another writer changed
    /// it, the script returns what it found and the batch is applied again
    /// to that. Returns one result per write.
    private func writeByCompareAndSet(
        key: String, _ batch: [StatusWriteQueue.Write], maxAttempts: Int, span: any Span
    ) async throws -> [Result<JSONValue, ScaleKitError>] {
        let limits = configuration.limits
        span.set("scalekit.status.batched_writes", batch.count)
        let remembered = knownValues.value(for: key)
        var known = remembered.map { KnownStatusValues.Stored.value($0.bytes) }
        // The document `known` holds, while it is the remembered value (decoded already).
        var knownDocument = remembered?.document
        // Whether `known` was read from the server in this call (by `GET` or
        // from the script's reply), rather than remembered from an earlier write.
        var isFresh = false
        for attempt in 1...max(1, maxAttempts) {
            let stored: KnownStatusValues.Stored
            if let known {
                stored = known
            } else {
                isFresh = true
                let reply = try await client.withExecutor(routingKey: RedisArgument(key)) { executor in
                    try await executor.send("GET", RedisArgument(key))
                }
                switch reply {
                case .bulkString(let bytes): stored = .value(bytes)
                case .null: stored = .absent
                default: throw ScaleKitError(.protocolError, "GET returned \(reply) for a status key")
                }
            }
            var current: JSONValue?
            if let knownDocument {
                current = knownDocument
            } else if case .value(let bytes) = stored {
                current = try decodeStored(.bulkString(bytes), key: key)
            }
            knownDocument = nil
            var results: [Result<JSONValue, ScaleKitError>] = []
            var ttl: Duration?
            for write in batch {
                do {
                    let next = try write.step(current)
                    try next.validate(limits: limits)
                    results.append(.success(next))
                    current = next
                    ttl = write.ttl
                } catch {
                    results.append(.failure(error))
                }
            }
            // Every write refused: nothing to store. A refusal is final only when
            // it was judged on the stored value, not on a remembered one.
            guard let current, let ttl else {
                if isFresh { return results }
                known = nil
                continue
            }
            let encoded = current.encodedBytes()
            let expected: [RedisArgument]
            switch stored {
            case .absent: expected = ["absent", ""]
            case .value(let bytes): expected = ["value", RedisArgument(bytes: bytes)]
            }
            let reply = try await client.withExecutor(routingKey: RedisArgument(key)) { executor in
                try await executor.evaluate(
                    RedisStatusScripts.compareAndSet, keys: [RedisArgument(key)],
                    arguments: expected + [RedisArgument(bytes: encoded), RedisArgument(Self.milliseconds(ttl))])
            }
            // Retries are what contention on one status costs: operators watch them.
            span.set("scalekit.status.merge_attempts", attempt)
            if reply.integer == 1 {
                knownValues.remember(encoded, document: current, for: key)
                return results
            }
            // Another writer got there first: apply the batch again to what it stored.
            guard let found = reply.array, found.first?.integer == 0 else {
                knownValues.forget(key)
                throw ScaleKitError(.protocolError, "the status compare-and-set script returned \(reply)")
            }
            if found.count > 1, case .bulkString(let bytes) = found[1] { known = .value(bytes) } else { known = .absent }
            isFresh = true
            if attempt < maxAttempts { mergeRetries.increment() }
        }
        knownValues.forget(key)
        logger.warning("status write gave up under contention", metadata: ["attempts": "\(maxAttempts)"])
        throw ScaleKitError(
            .conflict, "the status write gave up after \(maxAttempts) attempts: other writers kept changing the same status")
    }

    private func mergeInScript(_ patch: JSONValue, stamp: JSONValue, key: String, ttl: Duration) async throws -> JSONValue {
        let limits = configuration.limits
        let updatedAt = stamp.objectValue?[JobStatus.Member.updatedAt]?.stringValue ?? ""
        let reply: RedisValue
        do {
            reply = try await client.withExecutor(routingKey: RedisArgument(key)) { executor in
                try await executor.evaluate(
                    RedisStatusScripts.mergeWithCJSON, keys: [RedisArgument(key)],
                    arguments: [
                        RedisArgument(bytes: Array(patch.encoded())), RedisArgument(updatedAt),
                        RedisArgument(Self.milliseconds(ttl)), RedisArgument(limits.maximumBytes),
                    ])
            }
        } catch let error as ScaleKitError where error.nativeCode == "TOOBIG" {
            throw ScaleKitError(.invalidArgument, "the merged status would be larger than \(limits.maximumBytes) bytes")
        }
        guard let document = try decodeStored(reply, key: key) else {
            throw ScaleKitError(.protocolError, "the status merge script returned nothing")
        }
        return document
    }

    // MARK: - Helpers

    /// Decodes a stored status; `nil` for the nil reply.
    private func decodeStored(_ reply: RedisValue, key: String) throws(ScaleKitError) -> JSONValue? {
        guard case .bulkString(let bytes) = reply else {
            if reply.isNull { return nil }
            throw ScaleKitError(.protocolError, "GET returned \(reply) for a status key")
        }
        // The stored document was within the limits when written; a larger
        // one was written by someone else, which is corrupt data, not a bad argument.
        let limits = JSONValue.Limits(
            maximumDepth: configuration.limits.maximumDepth + 1, maximumBytes: max(bytes.count, configuration.limits.maximumBytes))
        let document: JSONValue
        do {
            document = try JSONValue.decode(Data(bytes), limits: limits)
        } catch {
            throw ScaleKitError(.corruptData, "the value under a status key is not a JSON status: \(error.message)")
        }
        guard document.objectValue != nil else {
            throw ScaleKitError(.corruptData, "the value under a status key is not a JSON object")
        }
        return document
    }

    static func milliseconds(_ duration: Duration) -> Int {
        max(1, Int(duration.milliseconds))
    }
}
