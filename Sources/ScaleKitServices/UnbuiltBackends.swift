import ScaleKit

/// Stand-ins for the backends a caller said it does not need: nothing is
/// opened for them, and any use is a typed error naming the primitive.
struct UnbuiltBackend: APITracking, StatusTracking, VideoRepository {
    let primitive: String

    private func refuse() -> ScaleKitError {
        ScaleKitError(.unsupported, "the \(primitive) was not built: the backends were made without it (ScaleKitBackends.Needs)")
    }

    func checkAndCount() async throws -> APICallDecision { throw refuse() }
    func recordOutcome(_ outcome: APICallOutcome) async throws { throw refuse() }
    func usage() async throws -> APIUsage { throw refuse() }
    func setStatus(_ status: JobStatus, for jobID: String, ttl: Duration?) async throws { throw refuse() }
    func mergeStatus(_ patch: JSONValue, for jobID: String, ttl: Duration?) async throws -> JobStatus { throw refuse() }
    func status(for jobID: String) async throws -> JobStatus? { throw refuse() }
    func deleteStatus(for jobID: String) async throws -> Bool { throw refuse() }
    func claimVideo(id: String, title: String?, originalURL: String?, lease: Duration) async throws -> VideoClaim { throw refuse() }
    func renewLease(id: String, token: ClaimToken, lease: Duration) async throws -> Video { throw refuse() }
    func completeVideo(id: String, token: ClaimToken) async throws -> Video { throw refuse() }
    func failVideo(id: String, token: ClaimToken, error: String) async throws -> Video { throw refuse() }
    func enqueueVideo(id: String, title: String?, originalURL: String?) async throws -> Video { throw refuse() }
    func claimNext(lease: Duration) async throws -> VideoClaim? { throw refuse() }
    func rescueExpiredLeases(limit: Int) async throws -> LeaseRescue { throw refuse() }
    func video(id: String) async throws -> Video? { throw refuse() }
    func videos(state: VideoState?, limit: Int) async throws -> [Video] { throw refuse() }
}
