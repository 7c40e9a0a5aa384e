import ScaleKit
import ScaleKitSQLite
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

/// Many connections on one file: each repository owns its own connection,
/// so these races go through SQLite's file locks, as separate processes do.
@Suite("SQLite claims across connections")
struct SQLiteConcurrencyTests {
    static let tasks = 64
    static let connections = 8

    private func race(_ repositories: [SQLiteVideoRepository], id: String) async throws -> [VideoClaim] {
        try await withThrowingTaskGroup(of: VideoClaim.self) { group in
            for index in 0..<Self.tasks {
                let repository = repositories[index % repositories.count]
                group.addTask { try await repository.claimVideo(id: id, title: "t", originalURL: nil, lease: .seconds(60)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func exactlyOneWinnerPerDecision() async throws {
        let folder = try TemporaryFolder()
        let clock = ManualWallClock()
        let path = folder.path("shared.sqlite")
        // Opened concurrently: the migrations race too, and must apply once.
        let repositories = try await withThrowingTaskGroup(of: SQLiteVideoRepository.self) { group in
            for _ in 0..<Self.connections {
                group.addTask { try await SQLiteVideoRepository(path: path, time: .clock(clock), busyTimeout: .seconds(30)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }

        let created = try await race(repositories, id: "hot 'id'")
        let creators = created.filter(\.shouldProcess)
        #expect(creators.count == 1)
        #expect(creators.first?.outcome == .created)
        #expect(created.filter { $0.outcome == .alreadyProcessing }.count == Self.tasks - 1)

        try await repositories[3].failVideo(id: "hot 'id'", token: creators[0].token!, error: "boom")
        let retried = try await race(repositories, id: "hot 'id'").filter(\.shouldProcess)
        #expect(retried.count == 1)
        #expect(retried.first?.outcome == .retryingFailed)

        clock.advance(by: .seconds(60))
        let takenOver = try await race(repositories, id: "hot 'id'").filter(\.shouldProcess)
        #expect(takenOver.count == 1)
        #expect(takenOver.first?.outcome == .tookOverExpiredLease)

        let stored = try await repositories[5].video(id: "hot 'id'")
        #expect(stored?.attempts == 3)
        #expect(stored?.leaseOwner == takenOver.first?.token)
    }

    @Test func newIdsFromManyConnectionsAreEachCreatedOnce() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("shared.sqlite")
        var repositories: [SQLiteVideoRepository] = []
        for _ in 0..<4 { repositories.append(try await SQLiteVideoRepository(path: path, busyTimeout: .seconds(30))) }
        let outcomes = try await withThrowingTaskGroup(of: ClaimOutcome.self) { group in
            for index in 0..<200 {
                let repository = repositories[index % repositories.count]
                group.addTask { try await repository.claimVideo(id: "video-\(index % 100)", title: nil, originalURL: nil, lease: .seconds(60)).outcome }
            }
            return try await group.reduce(into: [ClaimOutcome: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes == [.created: 100, .alreadyProcessing: 100])
        #expect(try await repositories[0].videos(state: .processing, limit: 1000).count == 100)
    }
}
