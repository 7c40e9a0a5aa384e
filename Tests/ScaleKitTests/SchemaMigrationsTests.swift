import ScaleKit
import Testing

/// The runner both SQL backends apply their schema with.
@Suite struct SchemaMigrationsTests {
    struct Step: SchemaMigration {
        var version: Int
        var description: String { "step \(version)" }
    }

    @Test func appliesWhatIsMissingInVersionOrderUpToTheLimit() throws {
        var ran: [Int] = []
        let applied = try SchemaMigrations.run([Step(version: 3), Step(version: 1), Step(version: 2), Step(version: 4)], through: 3, applied: [1]) {
            ran.append($0.version)
        }
        #expect(applied == [2, 3])
        #expect(ran == [2, 3])
    }

    @Test func aFailingStepStopsTheRunAndPropagates() {
        var ran: [Int] = []
        #expect(throws: ScaleKitError.self) {
            try SchemaMigrations.run([Step(version: 1), Step(version: 2), Step(version: 3)], applied: []) { (step) throws(ScaleKitError) in
                ran.append(step.version)
                if step.version == 2 { throw ScaleKitError(.corruptData, "step 2 failed") }
            }
        }
        #expect(ran == [1, 2])
    }

    @Test func numberingIsCheckedForGapsAndRepeats() {
        #expect(SchemaMigrations.areNumberedInOrder([Step(version: 1), Step(version: 2)]))
        #expect(!SchemaMigrations.areNumberedInOrder([Step(version: 1), Step(version: 3)]))
        #expect(!SchemaMigrations.areNumberedInOrder([Step(version: 1), Step(version: 1)]))
        #expect(!SchemaMigrations.areNumberedInOrder([Step]()))
    }
}
