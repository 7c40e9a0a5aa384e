/// One step of a SQL backend's schema: applied once, in version order, and
/// recorded in its `scalekit_schema_migrations` table.
package protocol SchemaMigration: Sendable {
    /// The step's number; versions increase by one from 1.
    var version: Int { get }
    /// What the step does, as recorded beside its version.
    var description: String { get }
}

/// The migration runner every SQL backend shares. The backend owns the
/// transaction and the lock that serialise runs across processes, reads the
/// versions already recorded, and says how to apply and record one step;
/// this decides which steps run and in what order.
package enum SchemaMigrations {
    /// Applies each of `migrations` up to version `last` that `applied` lacks,
    /// in version order (`apply` runs the step and records it); returns the
    /// versions applied.
    package static func run<Migration: SchemaMigration>(
        _ migrations: [Migration], through last: Int = .max, applied: Set<Int>,
        _ apply: (Migration) throws(ScaleKitError) -> Void
    ) throws(ScaleKitError) -> [Int] {
        var newlyApplied: [Int] = []
        for migration in migrations.sorted(by: { $0.version < $1.version })
        where migration.version <= last && !applied.contains(migration.version) {
            try apply(migration)
            newlyApplied.append(migration.version)
        }
        return newlyApplied
    }

    /// Whether `migrations` are numbered 1, 2, 3, … with none missing or
    /// repeated (checked by each backend's tests).
    package static func areNumberedInOrder<Migration: SchemaMigration>(_ migrations: [Migration]) -> Bool {
        !migrations.isEmpty && migrations.map(\.version) == Array(1...migrations.count)
    }
}
