public import ScaleKit
import Foundation

/// The contract of ``VideoRepository``, checked against any backend.
///
/// `make` returns a fresh, empty repository (its own table, schema or file)
/// whose lease times follow the given clock.
public enum VideoRepositoryConformance {
    public typealias Factory = @Sendable (ManualWallClock) async throws -> any VideoRepository

    public static func run(_ make: Factory) async throws {
        var runner = CheckRunner()
        await runner.run("claim lifecycle") { try await lifecycle(make) }
        await runner.run("failed videos are retried") { try await retry(make) }
        await runner.run("expired leases are taken over") { try await leaseTakeover(make) }
        await runner.run("renewing a lease") { try await renew(make) }
        await runner.run("listing") { try await listing(make) }
        await runner.run("invalid input") { try await invalidInput(make) }
        await runner.run("hostile strings round-trip") { try await hostile(make) }
        await runner.run("exactly one winner under concurrency") { try await concurrency(make) }
        try runner.finish()
    }

    static func lifecycle(_ make: Factory) async throws {
        let check = "claim lifecycle"
        let clock = ManualWallClock()
        let repository = try await make(clock)
        let missing = try await repository.video(id: "v1")
        try expect(missing == nil, check, "unknown video: \(String(describing: missing))")
        let claim = try await repository.claimVideo(id: "v1", title: "Title", originalURL: "https://youtu.be/v1", lease: .seconds(60))
        try expect(claim.outcome == .created && claim.shouldProcess && claim.token != nil, check, "first claim creates: \(claim)")
        let video = claim.video
        try expect(video.id == "v1" && video.title == "Title" && video.originalURL == "https://youtu.be/v1", check, "stored fields: \(video)")
        try expect(video.state == .processing && video.attempts == 1 && video.leaseOwner == claim.token, check, "claimed video: \(video)")
        try expect(video.leaseExpiresAt.map { abs($0.timeIntervalSince(clock.now().addingTimeInterval(60))) < 0.01 } == true, check, "lease ends 60 s from now: \(String(describing: video.leaseExpiresAt))")
        let second = try await repository.claimVideo(id: "v1", title: "Other", originalURL: nil, lease: .seconds(60))
        try expect(second.outcome == .alreadyProcessing && !second.shouldProcess && second.token == nil, check, "second claim: \(second)")
        try expect(second.video.title == "Title", check, "a later claim keeps the title: \(second.video)")
        try await expectError(.notClaimHolder, check) { try await repository.completeVideo(id: "v1", token: .random()) }
        try await expectError(.notClaimHolder, check) { try await repository.failVideo(id: "v1", token: .random(), error: "x") }
        clock.advance(by: .seconds(10))
        let completed = try await repository.completeVideo(id: "v1", token: claim.token!)
        try expect(completed.state == .completed && completed.leaseOwner == nil && completed.leaseExpiresAt == nil, check, "completed: \(completed)")
        try expect(abs(completed.updatedAt.timeIntervalSince(clock.now())) < 0.01 && completed.createdAt < completed.updatedAt, check, "timestamps: \(completed)")
        let after = try await repository.claimVideo(id: "v1", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(after.outcome == .alreadyCompleted && after.token == nil && after.video.state == .completed, check, "claim after completion: \(after)")
        try await expectError(.notClaimHolder, check) { try await repository.completeVideo(id: "v1", token: claim.token!) }
        let fetched = try await repository.video(id: "v1")
        try expect(fetched?.state == .completed && fetched?.attempts == 1, check, "fetched: \(String(describing: fetched))")
    }

    static func retry(_ make: Factory) async throws {
        let check = "failed videos are retried"
        let repository = try await make(ManualWallClock())
        let first = try await repository.claimVideo(id: "f", title: nil, originalURL: nil, lease: .seconds(60))
        let failed = try await repository.failVideo(id: "f", token: first.token!, error: "download failed: 403")
        try expect(failed.state == .failed && failed.lastError == "download failed: 403" && failed.leaseOwner == nil, check, "failed: \(failed)")
        let retry = try await repository.claimVideo(id: "f", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(retry.outcome == .retryingFailed && retry.token != nil && retry.token != first.token, check, "retry: \(retry)")
        try expect(retry.video.attempts == 2 && retry.video.state == .processing, check, "retry bumps attempts: \(retry.video)")
        try await expectError(.notClaimHolder, check) { try await repository.completeVideo(id: "f", token: first.token!) }
        let done = try await repository.completeVideo(id: "f", token: retry.token!)
        try expect(done.state == .completed, check, "retry completes: \(done)")
        try await expectError(.notFound, check) { try await repository.completeVideo(id: "nope", token: .random()) }
    }

    static func leaseTakeover(_ make: Factory) async throws {
        let check = "expired leases are taken over"
        let clock = ManualWallClock()
        let repository = try await make(clock)
        let first = try await repository.claimVideo(id: "l", title: nil, originalURL: nil, lease: .seconds(60))
        clock.advance(by: .seconds(59))
        let live = try await repository.claimVideo(id: "l", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(live.outcome == .alreadyProcessing, check, "a live lease holds: \(live)")
        clock.advance(by: .seconds(2))
        let takeover = try await repository.claimVideo(id: "l", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(takeover.outcome == .tookOverExpiredLease && takeover.token != nil && takeover.video.attempts == 2, check, "takeover: \(takeover)")
        try await expectError(.notClaimHolder, check) { try await repository.completeVideo(id: "l", token: first.token!) }
        try await expectError(.notClaimHolder, check) { try await repository.renewLease(id: "l", token: first.token!, lease: .seconds(60)) }
        let done = try await repository.completeVideo(id: "l", token: takeover.token!)
        try expect(done.state == .completed, check, "the new holder completes: \(done)")
    }

    static func renew(_ make: Factory) async throws {
        let check = "renewing a lease"
        let clock = ManualWallClock()
        let repository = try await make(clock)
        let claim = try await repository.claimVideo(id: "r", title: nil, originalURL: nil, lease: .seconds(60))
        clock.advance(by: .seconds(50))
        let renewed = try await repository.renewLease(id: "r", token: claim.token!, lease: .seconds(60))
        try expect(renewed.leaseExpiresAt.map { abs($0.timeIntervalSince(clock.now().addingTimeInterval(60))) < 0.01 } == true, check, "renewed lease: \(renewed)")
        clock.advance(by: .seconds(50))
        let other = try await repository.claimVideo(id: "r", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(other.outcome == .alreadyProcessing, check, "a renewed lease holds: \(other)")
        try await expectError(.invalidArgument, check) { try await repository.renewLease(id: "r", token: claim.token!, lease: .zero) }
    }

    static func listing(_ make: Factory) async throws {
        let check = "listing"
        let clock = ManualWallClock()
        let repository = try await make(clock)
        var tokens: [String: ClaimToken] = [:]
        for id in ["a", "b", "c", "d"] {
            clock.advance(by: .seconds(1))
            tokens[id] = try await repository.claimVideo(id: id, title: id.uppercased(), originalURL: nil, lease: .seconds(600)).token
        }
        clock.advance(by: .seconds(1))
        try await repository.completeVideo(id: "a", token: tokens["a"]!)
        clock.advance(by: .seconds(1))
        try await repository.failVideo(id: "b", token: tokens["b"]!, error: "e")
        let all = try await repository.videos(state: nil, limit: 100).map(\.id)
        try expect(all == ["b", "a", "d", "c"], check, "newest update first: \(all)")
        let processing = try await repository.videos(state: .processing, limit: 100).map(\.id)
        try expect(processing == ["d", "c"], check, "processing only: \(processing)")
        let completed = try await repository.videos(state: .completed, limit: 100).map(\.id)
        try expect(completed == ["a"], check, "completed only: \(completed)")
        let limited = try await repository.videos(state: nil, limit: 2).map(\.id)
        try expect(limited == ["b", "a"], check, "limit: \(limited)")
    }

    static func invalidInput(_ make: Factory) async throws {
        let check = "invalid input"
        let repository = try await make(ManualWallClock())
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: "", title: nil, originalURL: nil, lease: .seconds(60)) }
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: "nul\u{0}id", title: nil, originalURL: nil, lease: .seconds(60)) }
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: "x", title: nil, originalURL: nil, lease: .zero) }
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: String(repeating: "x", count: 2000), title: nil, originalURL: nil, lease: .seconds(60)) }
        let none = try await repository.videos(state: nil, limit: 10)
        try expect(none.isEmpty, check, "refused claims store nothing: \(none.map(\.id))")
    }

    static func hostile(_ make: Factory) async throws {
        let check = "hostile strings round-trip"
        let repository = try await make(ManualWallClock())
        let long = String(repeating: "日本語 '\"; --", count: 1000)  // about 13 KB
        for text in HostileStrings.all + [long.count > 0 ? String(long.prefix(1000)) + "!" : ""] where text.utf8.count <= Identifier.maximumUTF8Length {
            let claim = try await repository.claimVideo(id: text, title: text + long, originalURL: "https://example.com/?q=\(text)", lease: .seconds(60))
            try expect(claim.outcome == .created, check, "id \(text.debugDescription): \(claim.outcome)")
            let fetched = try await repository.video(id: text)
            try expect(fetched?.id == text && fetched?.title == text + long && fetched?.originalURL == "https://example.com/?q=\(text)", check, "id \(text.debugDescription) did not round-trip")
            try await repository.failVideo(id: text, token: claim.token!, error: text)
            try expect(try await repository.video(id: text)?.lastError == text, check, "error text \(text.debugDescription) did not round-trip")
        }
    }

    static func concurrency(_ make: Factory) async throws {
        let check = "exactly one winner under concurrency"
        let clock = ManualWallClock()
        let repository = try await make(clock)
        func race() async throws -> [VideoClaim] {
            try await withThrowingTaskGroup(of: VideoClaim.self) { group in
                for _ in 0..<64 {
                    group.addTask { try await repository.claimVideo(id: "hot", title: "t", originalURL: nil, lease: .seconds(60)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let created = try await race()
        let creators = created.filter(\.shouldProcess)
        try expect(creators.count == 1 && creators[0].outcome == .created, check, "new id: \(creators.count) winners")
        try expect(created.filter { $0.outcome == .alreadyProcessing }.count == 63, check, "new id: the others see alreadyProcessing")
        try await repository.failVideo(id: "hot", token: creators[0].token!, error: "boom")
        let retried = try await race().filter(\.shouldProcess)
        try expect(retried.count == 1 && retried[0].outcome == .retryingFailed, check, "failed id: \(retried.count) winners")
        clock.advance(by: .seconds(61))
        let takenOver = try await race().filter(\.shouldProcess)
        try expect(takenOver.count == 1 && takenOver[0].outcome == .tookOverExpiredLease, check, "expired lease: \(takenOver.count) winners")
        let video = try await repository.video(id: "hot")
        try expect(video?.attempts == 3 && video?.leaseOwner == takenOver.first?.token, check, "attempts and owner: \(String(describing: video))")
    }
}
