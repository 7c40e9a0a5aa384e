import ScaleKit
import Testing

/// The fence stores a SHA-256 of the token; a wrong digest would still fence
/// (it is compared with itself) but would not be the digest other services compute.
@Suite struct StatusFenceTests {
    @Test func holderIsTheSHA256OfTheToken() {
        // FIPS 180-4 examples: one block, and two blocks.
        #expect(StatusFence(attempt: 1, token: ClaimToken(rawValue: "abc")).record.holder
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(StatusFence(attempt: 1, token: ClaimToken(rawValue: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).record.holder
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(StatusFence(attempt: 1, token: ClaimToken(rawValue: "")).record.holder
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func laterAttemptsWinAndEarlierOnesAreRefused() throws {
        let older = StatusFence(attempt: 3, token: .random())
        let newer = StatusFence(attempt: 4, token: .random())
        try older.admit(over: nil, jobID: "j")
        try older.admit(over: older.record, jobID: "j")
        try newer.admit(over: older.record, jobID: "j")
        #expect(throws: ScaleKitError.self) { try older.admit(over: newer.record, jobID: "j") }
        #expect(throws: ScaleKitError.self) { try StatusFence(attempt: 4, token: .random()).admit(over: newer.record, jobID: "j") }
    }

    @Test func aClaimsFenceIsItsAttemptAndToken() {
        let video = Video(
            id: "v", title: nil, originalURL: nil, state: .processing, attempts: 2, leaseOwner: nil, leaseExpiresAt: nil,
            lastError: nil, createdAt: .now, updatedAt: .now)
        let token = ClaimToken.random()
        #expect(VideoClaim(video: video, outcome: .tookOverExpiredLease, token: token).fence == StatusFence(attempt: 2, token: token))
        #expect(VideoClaim(video: video, outcome: .alreadyProcessing, token: nil).fence == nil)
    }
}
