import Foundation
import ScaleKit
import ScaleKitSQLite
import ScaleKitTestSupport
import ScaleKitTesting
import Testing

@Suite("SQLite video repository")
struct SQLiteVideoRepositoryTests {
    @Test func claimLifecycleFollowsTheContract() async throws {
        let directory = try TemporaryFolder()
        let clock = ManualWallClock()
        let repository = try await SQLiteVideoRepository(path: directory.path("videos.sqlite"), time: .clock(clock))

        let first = try await repository.claimVideo(id: "v1", title: "Title", originalURL: "https://example.com/v1", lease: .seconds(60))
        #expect(first.outcome == .created)
        #expect(first.token != nil)
        #expect(first.video.attempts == 1 && first.video.state == .processing)
        #expect(first.video.leaseOwner == first.token)
        #expect(first.video.leaseExpiresAt == clock.now().addingTimeInterval(60))
        #expect(first.video.createdAt == clock.now() && first.video.updatedAt == clock.now())
        #expect(try await repository.video(id: "v1") == first.video)

        let second = try await repository.claimVideo(id: "v1", title: "Other", originalURL: nil, lease: .seconds(60))
        #expect(second.outcome == .alreadyProcessing && second.token == nil && second.video == first.video)

        clock.advance(by: .seconds(60))
        let takeover = try await repository.claimVideo(id: "v1", title: nil, originalURL: nil, lease: .seconds(30))
        #expect(takeover.outcome == .tookOverExpiredLease)
        #expect(takeover.video.attempts == 2 && takeover.video.title == "Title")
        await #expect(throws: ScaleKitError.self) { try await repository.completeVideo(id: "v1", token: first.token!) }

        clock.advance(by: .seconds(5))
        let failed = try await repository.failVideo(id: "v1", token: takeover.token!, error: "decoder crashed")
        #expect(failed.state == .failed && failed.lastError == "decoder crashed" && failed.leaseOwner == nil)
        #expect(failed.leaseExpiresAt == nil && failed.updatedAt == clock.now())

        let retry = try await repository.claimVideo(id: "v1", title: nil, originalURL: nil, lease: .seconds(30))
        #expect(retry.outcome == .retryingFailed && retry.video.attempts == 3 && retry.video.lastError == "decoder crashed")
        let renewed = try await repository.renewLease(id: "v1", token: retry.token!, lease: .seconds(120))
        #expect(renewed.leaseExpiresAt == clock.now().addingTimeInterval(120))

        let completed = try await repository.completeVideo(id: "v1", token: retry.token!)
        #expect(completed.state == .completed && completed.lastError == nil && completed.leaseOwner == nil)
        let done = try await repository.claimVideo(id: "v1", title: nil, originalURL: nil, lease: .seconds(30))
        #expect(done.outcome == .alreadyCompleted && done.token == nil && done.video == completed)
    }

    @Test func holderChecksTellMissingFromNotHolder() async throws {
        let directory = try TemporaryFolder()
        let repository = try await SQLiteVideoRepository(path: directory.path("videos.sqlite"), time: .clock(ManualWallClock()))
        let token = ClaimToken.random()
        await #expect { try await repository.completeVideo(id: "missing", token: token) } throws: {
            ($0 as? ScaleKitError)?.code == .notFound
        }
        _ = try await repository.claimVideo(id: "held", title: nil, originalURL: nil, lease: .seconds(60))
        await #expect { try await repository.failVideo(id: "held", token: token, error: "x") } throws: {
            ($0 as? ScaleKitError)?.code == .notClaimHolder
        }
        await #expect { try await repository.renewLease(id: "held", token: token, lease: .seconds(1)) } throws: {
            ($0 as? ScaleKitError)?.code == .notClaimHolder
        }
        await #expect { try await repository.claimVideo(id: "", title: nil, originalURL: nil, lease: .seconds(1)) } throws: {
            ($0 as? ScaleKitError)?.code == .invalidArgument
        }
        #expect(try await repository.video(id: "missing") == nil)
    }

    @Test func listsNewestFirstAndByState() async throws {
        let directory = try TemporaryFolder()
        let clock = ManualWallClock()
        let repository = try await SQLiteVideoRepository(path: directory.path("videos.sqlite"), time: .clock(clock))
        var tokens: [String: ClaimToken] = [:]
        for id in ["a", "b", "c", "d"] {
            tokens[id] = try await repository.claimVideo(id: id, title: nil, originalURL: nil, lease: .seconds(60)).token
        }
        clock.advance(by: .seconds(1))
        _ = try await repository.completeVideo(id: "b", token: tokens["b"]!)
        let all = try await repository.videos(state: nil, limit: 10).map(\.id)
        #expect(all == ["b", "d", "c", "a"])
        #expect(try await repository.videos(state: .processing, limit: 2).map(\.id) == ["d", "c"])
        #expect(try await repository.videos(state: .completed, limit: 10).map(\.id) == ["b"])
        #expect(try await repository.videos(state: .failed, limit: 10).isEmpty)
        #expect(try await repository.videos(state: nil, limit: -1).isEmpty)
    }

    @Test func openingFromADatabaseURL() async throws {
        let directory = try TemporaryFolder()
        let repository = try await SQLiteVideoRepository(url: "sqlite:///" + directory.path("videos.sqlite"), time: .clock(ManualWallClock()))
        #expect(repository.path == directory.path("videos.sqlite"))
        _ = try await repository.claimVideo(id: "x", title: nil, originalURL: nil, lease: .seconds(1))
        await #expect { try await SQLiteVideoRepository(url: "postgresql://localhost/db") } throws: {
            ($0 as? ScaleKitError)?.code == .invalidConfiguration
        }
    }

    @Test func openErrorsAreTyped() async throws {
        let directory = try TemporaryFolder()
        await #expect { try await SQLiteVideoRepository(path: directory.path("missing-dir/videos.sqlite")) } throws: {
            let error = $0 as? ScaleKitError
            return error?.code == .ioError && error?.nativeCode == "14"
        }
        let garbage = directory.path("garbage.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
        await #expect { try await SQLiteVideoRepository(path: garbage) } throws: {
            ($0 as? ScaleKitError)?.code == .corruptData
        }
    }

    @Test func closedRepositoryRefusesCalls() async throws {
        let directory = try TemporaryFolder()
        let repository = try await SQLiteVideoRepository(path: directory.path("videos.sqlite"))
        await repository.close()
        await #expect { try await repository.video(id: "x") } throws: { ($0 as? ScaleKitError)?.code == .connectionClosed }
    }
}
