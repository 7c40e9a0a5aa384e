import Hummingbird
import ScaleKitServices

/// `GET /api/usage`: the external API's counters, shared by every instance
/// that uses the same tracker.
struct UsageRoute: Sendable {
    let backends: ScaleKitBackends

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let usage = try await backends.apiTracker.usage()
        let backend = backends.choices.first { $0.primitive.lowercased().hasPrefix("api") }?.backend ?? "unknown"
        return try JSONResponse.make(UsageResponse(usage: usage, backend: backend))
    }
}
