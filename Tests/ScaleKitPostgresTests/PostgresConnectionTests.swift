import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import Testing

@Suite("PostgreSQL connection", .enabled(if: TestServers.postgresEnabled))
struct PostgresConnectionTests {
    @Test func parametersNeverReachErrorDescriptions() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServers.requireDatabaseURL())
        await #expect {
            try await connection.query("SELECT $1::integer", name: "parse number", ["secret-value-42"])
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.nativeCode == "22P02" && error?.code == .databaseError && !"\(error!)".contains("secret-value-42")
        }
        let table = "pg_temp.t_\(UInt32.random(in: 0...UInt32.max))"
        try await connection.execute("CREATE TABLE \(table) (id text PRIMARY KEY)", name: "create table")
        try await connection.query("INSERT INTO \(table) VALUES ($1)", name: "insert", ["hidden-id"])
        await #expect {
            try await connection.query("INSERT INTO \(table) VALUES ($1)", name: "insert", ["hidden-id"])
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.code == .constraintViolation && error?.nativeCode == "23505" && !"\(error!)".contains("hidden-id")
        }
        await connection.close()
    }

    @Test func returnedConnectionsAreRolledBack() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServers.requireDatabaseURL())
        try await connection.execute("BEGIN", name: "begin")
        #expect(await connection.isInTransaction)
        #expect(await connection.prepareForReuse())
        #expect(await connection.isInTransaction == false)

        try await connection.execute("BEGIN", name: "begin")
        _ = try? await connection.query("SELECT 1/0", name: "fail inside")
        #expect(await connection.isInTransaction)
        #expect(await connection.prepareForReuse())
        #expect(await connection.isInTransaction == false)
        #expect(try await connection.query("SELECT 1", name: "usable again").first?[0] == "1")

        await connection.close()
        #expect(await connection.prepareForReuse() == false)
        await #expect { try await connection.ping() } throws: { ($0 as? ScaleKitError)?.code == .connectionClosed }
    }

    @Test func transactionsRollBackOnError() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServers.requireDatabaseURL())
        let table = "pg_temp.t_\(UInt32.random(in: 0...UInt32.max))"
        try await connection.execute("CREATE TABLE \(table) (id text)", name: "create table")
        await #expect(throws: ScaleKitError.self) {
            try await connection.transaction { connection throws(ScaleKitError) in
                try connection.query("INSERT INTO \(table) VALUES ($1)", name: "insert", ["a"])
                throw ScaleKitError(.invalidArgument, "stop")
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM \(table)", name: "count").first?[0] == "0")
        #expect(await connection.prepareForReuse())
        await connection.close()
    }
}
