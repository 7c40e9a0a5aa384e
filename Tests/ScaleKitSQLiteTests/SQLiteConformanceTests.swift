import ScaleKit
import ScaleKitSQLite
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

@Suite("SQLite conformance")
struct SQLiteConformanceTests {
    @Test func videoRepositoryContract() async throws {
        let folder = try TemporaryFolder()
        try await VideoRepositoryConformance.run { clock, policy in
            try await SQLiteVideoRepository(path: folder.path("\(ClaimToken.random()).sqlite"), time: .clock(clock), policy: policy)
        }
    }
}
