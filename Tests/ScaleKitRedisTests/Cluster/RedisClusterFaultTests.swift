import Foundation
import ScaleKit
@testable import ScaleKitRedis
import ScaleKitTestSupport
import Synchronization
import Testing

/// Faults on a private Redis Cluster of the test's own: a slot migrated
/// while calls run, and a master killed with `kill -9`.
@Suite(.enabled(if: ServersScript.isAvailable), .serialized)
struct RedisClusterFaultTests {
    /// What the calling tasks saw.
    final class Tally: Sendable {
        let acknowledged = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let acknowledgedAfterFault = Atomic<Int>(0)
        let faultHappened = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        // Sanitizer-visible: all tasks fail at once when a connection drops, and
        // ThreadSanitizer cannot see a plain Mutex hand over on Linux.
        let errors = SanitizerVisibleMutex<[String]>([])

        func record(_ error: any Error) {
            failed.add(1, ordering: .relaxed)
            errors.withLock { if $0.count < 5 { $0.append("\(error)") } }
        }
    }

    /// `tasks` tasks calling `checkAndCount` until told to stop.
    private func callers(_ tracker: RedisAPITracker, tally: Tally, tasks: Int = 8) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        while !tally.stop.load(ordering: .relaxed) {
                            do {
                                if try await tracker.checkAndCount().isAllowed {
                                    tally.acknowledged.add(1, ordering: .relaxed)
                                    if tally.faultHappened.load(ordering: .relaxed) { tally.acknowledgedAfterFault.add(1, ordering: .relaxed) }
                                }
                            } catch {
                                tally.record(error)
                                try? await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
            }
        }
    }

    /// Waits (bounded by the hang bound) until `condition` holds.
    private func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now.advanced(by: TestServers.hangBound)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw ServersScript.Failure(description: "timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The slot of the tracker's keys moves from one master to another
    /// (`CLUSTER SETSLOT … IMPORTING/MIGRATING`, `MIGRATE` key by key,
    /// `SETSLOT … NODE`) while 8 tasks count: no call fails, and the stored
    /// total equals the calls allowed.
    @Test func aSlotMigratedDuringARunLosesNothing() async throws {
        let cluster = try await PrivateRedisCluster.start()
        do {
            // Every call meets TRYAGAIN from MIGRATING until the last SETSLOT
            // (its script names keys that exist on neither node: the
            // reservations), so calls must be able to wait out the whole
            // migration, which on a saturated machine is tens of seconds of
            // redis-cli runs: the test judges loss, not speed.
            let client = try TestRedisCluster.client(nodes: cluster.nodes, retryWindow: .seconds(180))
            let tracker = RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: APILimits(daily: 10_000_000, hourly: 10_000_000), keyPrefix: "migrating"))
            let slot = RedisHashSlot.of("{migrating}")
            let topology = try #require(try await client.clusterTopology())
            let source = try #require(topology.master(forSlot: slot))
            let destination = try #require(topology.masters.first { $0 != source })
            _ = try await tracker.checkAndCount()
            let tally = Tally()
            tally.acknowledged.add(1, ordering: .relaxed)
            let running = callers(tracker, tally: tally)
            try await eventually("calls are counted") { tally.acknowledged.load(ordering: .relaxed) > 20 }

            func id(_ node: RedisClusterConfiguration.Node) async throws -> String {
                try await cluster.cli(["-p", "\(node.port)", "CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let (sourceID, destinationID) = (try await id(source), try await id(destination))
            _ = try await cluster.cli(["-p", "\(destination.port)", "CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID])
            _ = try await cluster.cli(["-p", "\(source.port)", "CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", destinationID])
            tally.faultHappened.store(true, ordering: .relaxed)
            // One key at a time, with calls running in between: they meet ASK and TRYAGAIN.
            while true {
                let keys = try await cluster.cli(["-p", "\(source.port)", "CLUSTER", "GETKEYSINSLOT", "\(slot)", "1"])
                    .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
                guard let key = keys.first else { break }
                _ = try await cluster.cli(["-p", "\(source.port)", "MIGRATE", destination.host, "\(destination.port)", "", "0", "5000", "KEYS", key])
                try await Task.sleep(for: .milliseconds(30))
            }
            for node in topology.masters {
                _ = try await cluster.cli(["-p", "\(node.port)", "CLUSTER", "SETSLOT", "\(slot)", "NODE", destinationID])
            }
            let before = tally.acknowledgedAfterFault.load(ordering: .relaxed)
            try await eventually("calls are counted on the new owner") { tally.acknowledgedAfterFault.load(ordering: .relaxed) > before + 20 }
            tally.stop.store(true, ordering: .relaxed)
            await running.value

            #expect(tally.failed.load(ordering: .relaxed) == 0, "\(tally.errors.withLock { $0 })")
            let usage = try await tracker.usage()
            #expect(usage.totalCalls == tally.acknowledged.load(ordering: .relaxed))
            #expect(try await client.clusterTopology()?.master(forSlot: slot) == destination)
            print("[cluster] migration: \(usage.totalCalls) calls counted, \(tally.failed.load(ordering: .relaxed)) failed")
            await client.shutdown()
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// `kill -9` of the master serving the tracker's slot while 8 tasks
    /// count, with every write confirmed by a replica (`WAIT 1`): its
    /// replica takes over, the killed node comes back as a replica, calls
    /// succeed again, and acknowledged ≤ stored ≤ acknowledged + failed.
    @Test func aKilledMasterFailsOverAndNoAcknowledgedCallIsLost() async throws {
        let cluster = try await PrivateRedisCluster.start()
        do {
            let seeds = try RedisClusterConfiguration(nodes: cluster.nodes)
            var connection = RedisConnectionConfiguration(endpoint: .tcp(host: seeds.seeds[0].host, port: seeds.seeds[0].port))
            connection.replicaAcknowledgements = 1
            connection.replicaAcknowledgementTimeout = TestServers.scaled(.seconds(1))
            var pool = RedisClient.defaultPoolConfiguration
            pool.timeout = TestServers.scaled(.seconds(60))
            let client = try RedisClient(
                cluster: RedisClusterConfiguration(seeds: seeds.seeds, retryWindow: TestServers.scaled(.seconds(30))), configuration: connection,
                pool: pool)
            let tracker = RedisAPITracker(
                client: client, configuration: APITrackerConfiguration(limits: APILimits(daily: 10_000_000, hourly: 10_000_000), keyPrefix: "failover"))
            let slot = RedisHashSlot.of("{failover}")
            let victim = try #require(try await client.clusterTopology()?.master(forSlot: slot))
            let tally = Tally()
            let running = callers(tracker, tally: tally)
            try await eventually("calls are counted") { tally.acknowledged.load(ordering: .relaxed) > 20 }

            let killedAt = ContinuousClock.now
            try await cluster.crash(port: victim.port)
            tally.faultHappened.store(true, ordering: .relaxed)
            try await eventually("the replica is promoted") {
                let master = try? await client.clusterTopology()?.master(forSlot: slot)
                return master != nil && master != victim
            }
            let promotedAfter = ContinuousClock.now - killedAt
            // The shard has no replica left to confirm writes: the killed node returns as one.
            try await cluster.restart(port: victim.port)
            try await eventually("calls succeed again") { tally.acknowledgedAfterFault.load(ordering: .relaxed) > 20 }
            let recoveredAfter = ContinuousClock.now - killedAt
            tally.stop.store(true, ordering: .relaxed)
            await running.value

            let acknowledged = tally.acknowledged.load(ordering: .relaxed)
            let failed = tally.failed.load(ordering: .relaxed)
            let stored = try await tracker.usage().totalCalls
            #expect(acknowledged <= stored && stored <= acknowledged + failed, "acknowledged \(acknowledged), stored \(stored), failed \(failed)")
            print(
                "[cluster] kill -9 of master \(victim): replica promoted after \(promotedAfter), calls succeeding again after "
                    + "\(recoveredAfter); acknowledged \(acknowledged), stored \(stored), failed \(failed)")
            await client.shutdown()
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
