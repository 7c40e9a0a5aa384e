import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

/// Through PgBouncer in `pool_mode = transaction` (scripts/with-servers.sh):
/// each transaction may run on another server connection, so nothing may
/// depend on session state. `statement_cache=off` sends unnamed statements.
@Suite("PostgreSQL through PgBouncer", .enabled(if: TestServers.pgbouncerEnabled))
struct PgBouncerTests {
    @Test func conformanceSuitePassesWithTheStatementCacheOff() async throws {
        let database = PostgresTestDatabase(url: try TestServers.requirePgBouncerURL() + "?statement_cache=off")
        do {
            try await VideoRepositoryConformance.run { clock, policy in try database.repository(clock: clock, policy: policy) }
        } catch {
            await database.shutdownAll()
            throw error
        }
        await database.shutdownAll()
    }

    /// Why the mode exists: with named statements, a statement prepared on one
    /// server connection is looked up on another (`26000`, "prepared statement
    /// does not exist") or prepared twice on the same one (`42P05`).
    @Test func namedStatementsBreakBehindTransactionPooling() async throws {
        let url = try TestServers.requirePgBouncerURL()
        // Two client connections whose statements PgBouncer hands to the same
        // server connections in turn: each prepares "scalekit_1" for a different text.
        let first = try await PostgresConnection.connect(url: url)
        let second = try await PostgresConnection.connect(url: url)
        var failures: [ScaleKitError] = []
        for round in 0..<20 {
            for (index, connection) in [first, second].enumerated() {
                do {
                    let rows = try await connection.query("SELECT $1::integer + \(index)", name: "probe \(index)", [String(round)])
                    // Another client's statement under the same name answers wrongly, without an error.
                    if rows.first?[0] != String(round + index) {
                        failures.append(ScaleKitError(.corruptData, "wrong answer \(String(describing: rows.first?[0]))"))
                    }
                } catch {
                    failures.append(error)
                }
            }
        }
        await first.close()
        await second.close()
        #expect(!failures.isEmpty, "named statements behind transaction pooling should fail at least once")

        let unnamed = try await PostgresConnection.connect(url: url + "?statement_cache=off")
        #expect(unnamed.statementCache == .off)
        for round in 0..<20 {
            let rows = try await unnamed.query("SELECT $1::integer + 1", name: "probe", [String(round)])
            #expect(rows.first?[0] == String(round + 1))
        }
        await unnamed.close()
    }
}

/// ScaleKit's `statement_cache` parameter is taken out before libpq sees the URL.
@Suite struct PostgresStatementCacheTests {
    @Test func splitsTheParameterOffURIsAndKeyValueStrings() throws {
        #expect(try PostgresStatementCache.split("postgresql://u@h/db") == ("postgresql://u@h/db", .on))
        #expect(try PostgresStatementCache.split("postgresql://u@h/db?statement_cache=off") == ("postgresql://u@h/db", .off))
        #expect(
            try PostgresStatementCache.split("postgres://u@h/db?sslmode=require&statement_cache=OFF&application_name=x")
                == ("postgres://u@h/db?sslmode=require&application_name=x", .off))
        #expect(try PostgresStatementCache.split("host=h statement_cache = off dbname=d") == ("host=h dbname=d", .off))
        #expect(try PostgresStatementCache.split("host=h dbname=d") == ("host=h dbname=d", .on))
        #expect(throws: ScaleKitError.self) { try PostgresStatementCache.split("postgresql://h/db?statement_cache=maybe") }
    }
}
