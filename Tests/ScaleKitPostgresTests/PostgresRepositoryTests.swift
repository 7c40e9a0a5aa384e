import Foundation
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

@Suite("PostgreSQL video repository", .enabled(if: TestServers.postgresEnabled))
struct PostgresRepositoryTests {
    @Test func exhaustedPoolThrowsAfterTheTimeout() async throws {
        let database = try PostgresTestDatabase()
        let repository = try database.repository(
            pool: ConnectionPoolConfiguration(size: 1, maxOverflow: 0, timeout: .milliseconds(200)))
        try await repository.migrate()
        let started = ContinuousClock.now
        _ = try await repository.pool.withConnection { _ in
            await #expect {
                try await repository.claimVideo(id: "waits", title: nil, originalURL: nil, lease: .seconds(5))
            } throws: { ($0 as? ScaleKitError)?.code == .poolExhausted }
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(200) && waited < TestServers.scaled(.seconds(30)))  // the timeout, not a hang
        #expect(try await repository.claimVideo(id: "waits", title: nil, originalURL: nil, lease: .seconds(5)).outcome == .created)
        #expect(repository.pool.statistics().checkedOut == 0)
        await database.shutdownAll()
    }

    @Test func serverDownIsAFastConnectError() async throws {
        let port = try freePort()
        let repository = try PostgresVideoRepository(
            url: "postgresql://scalekit:s3cr3t-password@127.0.0.1:\(port)/videos?sslmode=disable",
            pool: ConnectionPoolConfiguration(size: 2, maxOverflow: 0, timeout: .seconds(600)))
        let started = ContinuousClock.now
        await #expect {
            try await repository.claimVideo(id: "x", title: nil, originalURL: nil, lease: .seconds(5))
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.code == .connectionFailed && !"\(error!)".contains("s3cr3t-password")
        }
        // The refusal itself is the answer: the caller does not sit out the pool
        // timeout. The code (connectionFailed, not timeout) already says so; the
        // bound only tells a refusal from a hang, with room for a sanitizer on a
        // loaded machine, and stays far below the 600 s timeout.
        #expect(ContinuousClock.now - started < TestServers.hangBound)
        await repository.shutdown()
    }

    @Test func invalidSchemaNamesAreRefused() throws {
        for name in ["", "has space", "x\"; DROP", "1leading", String(repeating: "a", count: 64)] {
            #expect { try PostgresVideoRepository(url: "postgresql://localhost/db", schema: name) } throws: {
                ($0 as? ScaleKitError)?.code == .invalidArgument
            }
        }
    }

    @Test func concurrentMigrationsApplyOnce() async throws {
        let database = try PostgresTestDatabase()
        let schema = PostgresTestDatabase.uniqueSchema()
        let repositories = try (0..<6).map { _ in try database.repository(schema: schema) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for repository in repositories { group.addTask { try await repository.migrate() } }
            try await group.waitForAll()
        }
        let connection = try await PostgresConnection.connect(url: database.url)
        let versions = try await connection.query(
            "SELECT version FROM \(schema).scalekit_schema_migrations ORDER BY version", name: "versions")
        #expect(versions.map { $0[0] } == ["1", "2", "3"])
        await connection.close()
        await database.shutdownAll()
    }

    private func freePort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(socket, raw, length) == 0, getsockname(socket, raw, &length) == 0 else {
                    throw ScaleKitError(.ioError, "cannot find a free port")
                }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
