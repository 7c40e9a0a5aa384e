package import Tracing

/// The span names and attribute keys ScaleKit's operations use, in one place.
///
/// Attribute keys follow OpenTelemetry's semantic conventions where one
/// exists (`db.system`, `db.operation`, `server.address`, `server.port`);
/// ScaleKit's own are under `scalekit.`. Spans never carry a secret or a
/// bound value: no URL with credentials, no video or job id, no patch.
///
/// Every span is started through swift-distributed-tracing's global tracer
/// (`InstrumentationSystem`): with none bootstrapped, a span is a no-op that
/// allocates nothing (Benchmarks/TracingBenchmarks measures it).
package enum ScaleKitSpan {
    package static let dbSystem = "db.system"
    package static let dbOperation = "db.operation"
    package static let serverAddress = "server.address"
    package static let serverPort = "server.port"
    package static let poolName = "db.client.connection.pool.name"

    /// A video repository's operation (`videos.claim`, `videos.complete`, …)
    /// as a client span of `system` (`postgresql`, `sqlite`), with what it
    /// decided (`scalekit.claim.outcome` for claims) and never the video id.
    package static func videos<T>(
        _ name: String, system: String, isolation: isolated (any Actor)? = #isolation,
        outcome: (T) -> String? = { _ in nil }, _ body: () async throws -> T
    ) async rethrows -> T {
        try await run(name, isolation: isolation) { span in
            span.attributes[dbSystem] = system
            span.attributes[dbOperation] = name
            let result = try await body()
            if let outcome = outcome(result) { span.attributes["scalekit.claim.outcome"] = outcome }
            return result
        }
    }

    /// `videos.complete`, `videos.fail`, `videos.renew_lease` from the
    /// statement names "complete video", "fail video", "renew lease".
    package static func videosSpanName(_ statement: String) -> String {
        "videos." + statement.replacingOccurrences(of: " video", with: "").replacingOccurrences(of: " ", with: "_")
    }

    /// Runs `body` in a span named `name` of `kind`; an error it throws is
    /// recorded on the span (and its status set to error) before it propagates.
    package static func run<T>(
        _ name: String, kind: SpanKind = .client, isolation: isolated (any Actor)? = #isolation,
        _ body: (any Span) async throws -> T
    ) async rethrows -> T {
        try await withSpan(name, ofKind: kind, isolation: isolation) { span in
            do {
                return try await body(span)
            } catch {
                span.setStatus(SpanStatus(code: .error))
                throw error
            }
        }
    }
}
