import Foundation
import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Synchronization

/// Repositories on the test server, each in a schema of its own so tests
/// running in parallel never see each other's videos.
final class PostgresTestDatabase: Sendable {
    let url: String
    private let repositories = SanitizerVisibleMutex<[PostgresVideoRepository]>([])

    init() throws {
        url = try TestServers.requireDatabaseURL()
    }

    /// Repositories that reach the test server through `url` instead (PgBouncer, TLS).
    init(url: String) {
        self.url = url
    }

    static func uniqueSchema() -> String {
        "scalekit_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// A repository in a fresh schema (or in `schema`), shut down by ``shutdownAll()``.
    /// `clock` stands in for the server's clock (so tests move time by hand); `nil`: the server's own.
    func repository(
        clock: (any WallClock)? = ManualWallClock(), schema: String = uniqueSchema(), policy: ClaimPolicy = ClaimPolicy(),
        pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(size: 4, maxOverflow: 8, timeout: .seconds(30))
    ) throws -> PostgresVideoRepository {
        let repository = try PostgresVideoRepository(
            url: url, pool: pool, schema: schema, time: clock.map { .clock($0) } ?? .database, policy: policy)
        repositories.withLock { $0.append(repository) }
        return repository
    }

    func shutdownAll() async {
        for repository in repositories.withLock({ $0 }) { await repository.shutdown() }
    }
}
