import ScaleKit
@testable import ScaleKitSQLite
import Testing

@Suite struct SQLiteSchemaTests {
    /// The runner applies steps by version; a gap or a repeat would skip or re-run one.
    @Test func migrationsAreNumberedOneByOne() {
        #expect(SchemaMigrations.areNumberedInOrder(SQLiteSchema.migrations))
    }
}
