import ScaleKit
@testable import ScaleKitPostgres
import Testing

@Suite struct PostgresSchemaTests {
    /// The runner applies steps by version; a gap or a repeat would skip or re-run one.
    @Test func migrationsAreNumberedOneByOne() {
        #expect(SchemaMigrations.areNumberedInOrder(PostgresSchema.migrations))
    }
}
