package import Metrics

/// The counter every ``VideoRepository`` backend records for each claim
/// (Docs/Operations.md): `scalekit_video_claims_total{operation, outcome}`,
/// with `operation` `claim` (``VideoRepository/claimVideo(id:title:originalURL:lease:)``)
/// or `claim_next` (``VideoRepository/claimNext(lease:)``) and `outcome` a
/// ``ClaimOutcome`` raw value, or `none` when claim-next found nothing.
/// A claim that throws is not counted.
package struct ClaimMetrics: Sendable {
    private let factory: any MetricsFactory

    package init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts the outcome of a `claimVideo`.
    package func record(_ claim: VideoClaim) {
        count(operation: "claim", outcome: claim.outcome.rawValue)
    }

    /// Counts the outcome of a `claimNext` (`none` for `nil`).
    package func record(next claim: VideoClaim?) {
        count(operation: "claim_next", outcome: claim?.outcome.rawValue ?? "none")
    }

    /// Runs a SQL backend's `claimVideo` in its span (`videos.claim`, with
    /// `db.system` = `system` and the outcome) and counts the outcome.
    package func claim(
        system: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> VideoClaim
    ) async throws -> VideoClaim {
        let claim = try await ScaleKitSpan.videos("videos.claim", system: system, isolation: isolation, outcome: { $0.outcome.rawValue }, body)
        record(claim)
        return claim
    }

    /// Runs a SQL backend's `claimNext` in its span (`videos.claim_next`) and counts the outcome.
    package func claimNext(
        system: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> VideoClaim?
    ) async throws -> VideoClaim? {
        let claim = try await ScaleKitSpan.videos(
            "videos.claim_next", system: system, isolation: isolation, outcome: { $0?.outcome.rawValue ?? "none" }, body)
        record(next: claim)
        return claim
    }

    private func count(operation: String, outcome: String) {
        Counter(
            label: "scalekit_video_claims_total", dimensions: [("operation", operation), ("outcome", outcome)], factory: factory
        ).increment()
    }
}
