import Hummingbird
import ScaleKit
import ScaleKitServices

/// `GET /health`: checks every server behind the backends (Redis PING,
/// database `SELECT 1`, from ``ScaleKitBackends/healthChecks``) at once,
/// each within a timeout; 200 when all answer, 503 otherwise.
struct HealthRoute: Sendable {
    let backends: ScaleKitBackends
    let settings: VideoServiceSettings
    var timeout: Duration = .seconds(2)

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let checks = await withTaskGroup(of: HealthResponse.Check.self) { group in
            for check in backends.healthChecks {
                group.addTask { await Self.run(check, timeout: timeout) }
            }
            var results: [HealthResponse.Check] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.name < $1.name }
        }
        let healthy = checks.allSatisfy(\.healthy)
        let body = HealthResponse(
            status: healthy ? "healthy" : "unhealthy", instance: settings.instanceName, checks: checks,
            backends: backends.choices.map {
                HealthResponse.Backend(primitive: $0.primitive, backend: $0.backend, distributed: $0.isDistributed, location: $0.location)
            })
        return try JSONResponse.make(body, status: healthy ? .ok : .serviceUnavailable)
    }

    private static func run(_ check: HealthCheck, timeout: Duration) async -> HealthResponse.Check {
        let clock = ContinuousClock()
        let start = clock.now
        let error: String? = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await check.check()
                    return nil
                } catch let error as ScaleKitError {
                    return "\(error.code): \(error.message)"
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return "no answer within \(timeout)"
            }
            let first = await group.next() ?? "no answer"
            group.cancelAll()
            return first
        }
        let elapsed = clock.now - start
        return HealthResponse.Check(
            name: check.name, healthy: error == nil, error: error,
            milliseconds: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000))
    }
}
