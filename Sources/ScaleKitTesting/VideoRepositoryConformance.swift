public import ScaleKit
import Foundation

/// The contract of ``/ScaleKit/VideoRepository``, checked against any backend.
///
/// `make` returns a fresh, empty repository (its own table, schema or file)
/// whose lease times follow the given clock (standing in for the database's
/// clock: ``/ScaleKit/LeaseTimeSource/clock(_:)``) and that applies the given policy.
public enum VideoRepositoryConformance {
    /// Builds a fresh, empty repository whose lease times follow the given
    /// clock and that applies the given policy.
    public typealias Factory = @Sendable (ManualWallClock, ClaimPolicy) async throws -> any VideoRepository

    /// Runs every check of the contract against repositories from `make`.
    ///
    /// - Throws: ``ConformanceFailures`` listing every check that failed, or
    ///   what `make` throws.
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
        await runner.run("attempts cap and abandoned") { try await attemptsCap(make) }
        await runner.run("backoff before a retry") { try await backoff(make) }
        await runner.run("bounded error history") { try await errorHistory(make) }
        await runner.run("claim next") { try await claimNext(make) }
        await runner.run("claim next: one winner per video") { try await claimNextConcurrency(make) }
        await runner.run("rescuing expired leases") { try await rescue(make) }
        try runner.finish()
    }

    static func lifecycle(_ make: Factory) async throws {
        let check = "claim lifecycle"
        let clock = ManualWallClock()
        let repository = try await make(clock, ClaimPolicy())
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
        let repository = try await make(ManualWallClock(), ClaimPolicy())
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
        let repository = try await make(clock, ClaimPolicy())
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
        let repository = try await make(clock, ClaimPolicy())
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
        let repository = try await make(clock, ClaimPolicy())
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
        let repository = try await make(ManualWallClock(), ClaimPolicy())
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: "", title: nil, originalURL: nil, lease: .seconds(60)) }
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: "nul\u{0}id", title: nil, originalURL: nil, lease: .seconds(60)) }
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: "x", title: nil, originalURL: nil, lease: .zero) }
        try await expectError(.invalidArgument, check) { try await repository.claimVideo(id: String(repeating: "x", count: 2000), title: nil, originalURL: nil, lease: .seconds(60)) }
        let none = try await repository.videos(state: nil, limit: 10)
        try expect(none.isEmpty, check, "refused claims store nothing: \(none.map(\.id))")
    }

    static func hostile(_ make: Factory) async throws {
        let check = "hostile strings round-trip"
        let repository = try await make(ManualWallClock(), ClaimPolicy())
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
        let repository = try await make(clock, ClaimPolicy())
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

    static func attemptsCap(_ make: Factory) async throws {
        let check = "attempts cap and abandoned"
        let clock = ManualWallClock()
        let repository = try await make(clock, ClaimPolicy(maxAttempts: 2))
        let first = try await repository.claimVideo(id: "cap", title: nil, originalURL: nil, lease: .seconds(60))
        let failed = try await repository.failVideo(id: "cap", token: first.token!, error: "e1")
        try expect(failed.state == .failed && failed.attempts == 1, check, "attempt 1 of 2 fails: \(failed)")
        let second = try await repository.claimVideo(id: "cap", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(second.outcome == .retryingFailed && second.attempt == 2, check, "attempt 2: \(second)")
        let abandoned = try await repository.failVideo(id: "cap", token: second.token!, error: "e2")
        try expect(abandoned.state == .abandoned && abandoned.leaseOwner == nil && abandoned.notBefore == nil, check, "the last attempt's failure abandons: \(abandoned)")
        let after = try await repository.claimVideo(id: "cap", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(after.outcome == .abandoned && after.token == nil && after.video.attempts == 2, check, "an abandoned video is never claimed: \(after)")
        // An expired lease of the last attempt abandons too.
        let last = try await repository.claimVideo(id: "cap2", title: nil, originalURL: nil, lease: .seconds(60))
        try await repository.failVideo(id: "cap2", token: last.token!, error: "e1")
        _ = try await repository.claimVideo(id: "cap2", title: nil, originalURL: nil, lease: .seconds(60))
        clock.advance(by: .seconds(61))
        let expired = try await repository.claimVideo(id: "cap2", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(expired.outcome == .abandoned && expired.video.state == .abandoned, check, "an expired last attempt is abandoned: \(expired)")
        try expect(expired.video.errors.last?.message == VideoAttemptError.leaseExpiredMessage && expired.video.errors.last?.attempt == 2, check, "the expiry is recorded: \(expired.video.errors)")
        let listed = try await repository.videos(state: .abandoned, limit: 10).map(\.id).sorted()
        try expect(listed == ["cap", "cap2"], check, "listing abandoned videos: \(listed)")
    }

    static func backoff(_ make: Factory) async throws {
        let check = "backoff before a retry"
        let clock = ManualWallClock()
        let repository = try await make(clock, ClaimPolicy(maxAttempts: 5, retryBackoff: .seconds(30)))
        let first = try await repository.claimVideo(id: "b", title: nil, originalURL: nil, lease: .seconds(60))
        let failed = try await repository.failVideo(id: "b", token: first.token!, error: "503")
        let due = clock.now().addingTimeInterval(30)
        try expect(failed.notBefore.map { abs($0.timeIntervalSince(due)) < 0.01 } == true, check, "due 30 s after the first failure: \(failed)")
        clock.advance(by: .seconds(29))
        let early = try await repository.claimVideo(id: "b", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(early.outcome == .retryNotDue && early.token == nil && early.notBefore.map { abs($0.timeIntervalSince(due)) < 0.01 } == true, check, "not before T: \(early)")
        try expect(try await repository.claimNext(lease: .seconds(60)) == nil, check, "claim-next skips a video not yet due")
        clock.advance(by: .seconds(1))
        let retry = try await repository.claimVideo(id: "b", title: nil, originalURL: nil, lease: .seconds(60))
        try expect(retry.outcome == .retryingFailed && retry.attempt == 2, check, "due at T: \(retry)")
        let second = try await repository.failVideo(id: "b", token: retry.token!, error: "503")
        let doubled = clock.now().addingTimeInterval(60)
        try expect(second.notBefore.map { abs($0.timeIntervalSince(doubled)) < 0.01 } == true, check, "the wait doubles: \(second)")
    }

    static func errorHistory(_ make: Factory) async throws {
        let check = "bounded error history"
        let clock = ManualWallClock()
        let repository = try await make(clock, ClaimPolicy(maxAttempts: 30))
        for attempt in 1...12 {
            let claim = try await repository.claimVideo(id: "h", title: nil, originalURL: nil, lease: .seconds(60))
            try expect(claim.attempt == attempt, check, "attempt \(attempt): \(claim)")
            clock.advance(by: .seconds(1))
            try await repository.failVideo(id: "h", token: claim.token!, error: "error \(attempt)")
        }
        let video = try await repository.video(id: "h")
        let errors = video?.errors ?? []
        try expect(errors.count == VideoAttemptError.historyLimit, check, "at most \(VideoAttemptError.historyLimit) kept: \(errors.count)")
        try expect(errors.map(\.attempt) == Array(3...12) && errors.map(\.message) == (3...12).map { "error \($0)" }, check, "the most recent, oldest first: \(errors)")
        try expect(errors.last.map { abs($0.at.timeIntervalSince(clock.now())) < 0.01 } == true && video?.lastError == "error 12", check, "times and last error: \(String(describing: video))")
    }

    static func claimNext(_ make: Factory) async throws {
        let check = "claim next"
        let clock = ManualWallClock()
        let repository = try await make(clock, ClaimPolicy(maxAttempts: 2))
        try expect(try await repository.claimNext(lease: .seconds(60)) == nil, check, "nothing to do in an empty repository")
        let pending = try await repository.enqueueVideo(id: "p1", title: "P1", originalURL: nil)
        try expect(pending.state == .pending && pending.attempts == 0, check, "enqueued: \(pending)")
        clock.advance(by: .seconds(1))
        try await repository.enqueueVideo(id: "p2", title: nil, originalURL: nil)
        let again = try await repository.enqueueVideo(id: "p1", title: "other", originalURL: nil)
        try expect(again.title == "P1", check, "enqueueing twice keeps the first: \(again)")
        let first = try await repository.claimNext(lease: .seconds(60))
        try expect(first?.outcome == .claimedPending && first?.video.id == "p1" && first?.attempt == 1 && first?.token != nil, check, "earliest first: \(String(describing: first))")
        let second = try await repository.claimNext(lease: .seconds(60))
        try expect(second?.video.id == "p2", check, "then the next: \(String(describing: second))")
        try expect(try await repository.claimNext(lease: .seconds(60)) == nil, check, "live leases are not handed out")
        try await repository.failVideo(id: "p1", token: first!.token!, error: "x")
        let retry = try await repository.claimNext(lease: .seconds(60))
        try expect(retry?.outcome == .retryingFailed && retry?.video.id == "p1" && retry?.attempt == 2, check, "a due failed video: \(String(describing: retry))")
        clock.advance(by: .seconds(61))
        let takeover = try await repository.claimNext(lease: .seconds(60))
        try expect(takeover?.outcome == .tookOverExpiredLease && takeover?.video.id == "p2", check, "an expired lease below the cap: \(String(describing: takeover))")
        try await expectError(.notClaimHolder, check) { try await repository.completeVideo(id: "p2", token: second!.token!) }
        try expect(try await repository.claimNext(lease: .seconds(60)) == nil, check, "an expired last attempt is left to the rescuer")
        let done = try await repository.completeVideo(id: "p2", token: takeover!.token!)
        try expect(done.state == .completed, check, "the new holder completes: \(done)")
        let claimedByID = try await repository.enqueueVideo(id: "p3", title: nil, originalURL: nil)
        let byID = try await repository.claimVideo(id: claimedByID.id, title: nil, originalURL: nil, lease: .seconds(60))
        try expect(byID.outcome == .claimedPending && byID.attempt == 1, check, "a pending video claimed by id: \(byID)")
    }

    static func claimNextConcurrency(_ make: Factory) async throws {
        let check = "claim next: one winner per video"
        let repository = try await make(ManualWallClock(), ClaimPolicy())
        for index in 0..<40 { try await repository.enqueueVideo(id: "q\(index)", title: nil, originalURL: nil) }
        let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var ids: [String] = []
                    while let claim = try await repository.claimNext(lease: .seconds(600)) { ids.append(claim.video.id) }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        try expect(claimed.count == 40 && Set(claimed).count == 40, check, "40 videos, \(claimed.count) claims, \(Set(claimed).count) distinct")
    }

    static func rescue(_ make: Factory) async throws {
        let check = "rescuing expired leases"
        let clock = ManualWallClock()
        let repository = try await make(clock, ClaimPolicy(maxAttempts: 2, retryBackoff: .seconds(10)))
        let live = try await repository.claimVideo(id: "live", title: nil, originalURL: nil, lease: .seconds(600))
        let once = try await repository.claimVideo(id: "once", title: nil, originalURL: nil, lease: .seconds(60))
        let twice = try await repository.claimVideo(id: "twice", title: nil, originalURL: nil, lease: .seconds(60))
        try await repository.failVideo(id: "twice", token: twice.token!, error: "x")
        clock.advance(by: .seconds(10))
        _ = try await repository.claimVideo(id: "twice", title: nil, originalURL: nil, lease: .seconds(60))
        clock.advance(by: .seconds(61))
        let report = try await repository.rescueExpiredLeases(limit: 100)
        try expect(report == LeaseRescue(requeued: 1, abandoned: 1), check, "one requeued, one abandoned: \(report)")
        let requeued = try await repository.video(id: "once")
        try expect(requeued?.state == .failed && requeued?.leaseOwner == nil && requeued?.lastError == VideoAttemptError.leaseExpiredMessage, check, "requeued: \(String(describing: requeued))")
        try expect(requeued?.notBefore.map { abs($0.timeIntervalSince(clock.now().addingTimeInterval(10))) < 0.01 } == true, check, "with the backoff: \(String(describing: requeued))")
        try expect(try await repository.video(id: "twice")?.state == .abandoned, check, "the last attempt abandoned")
        try expect(try await repository.video(id: "live")?.leaseOwner == live.token, check, "a live lease untouched")
        try await expectError(.notClaimHolder, check) { try await repository.completeVideo(id: "once", token: once.token!) }
        let again = try await repository.rescueExpiredLeases(limit: 100)
        try expect(again.total == 0, check, "nothing left to rescue: \(again)")
        clock.advance(by: .seconds(10))
        let next = try await repository.claimNext(lease: .seconds(60))
        try expect(next?.video.id == "once" && next?.outcome == .retryingFailed && next?.attempt == 2, check, "requeued work is claimable: \(String(describing: next))")
    }
}
