import ScaleKit
import ScaleKitPostgres
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

@Suite("PostgreSQL conformance", .enabled(if: TestServers.postgresEnabled))
struct PostgresConformanceTests {
    @Test func videoRepositoryContract() async throws {
        let database = try PostgresTestDatabase()
        do {
            try await VideoRepositoryConformance.run { clock, policy in try database.repository(clock: clock, policy: policy) }
        } catch {
            await database.shutdownAll()
            throw error
        }
        await database.shutdownAll()
    }
}
