package import Tracing

/// The span names and attribute keys ScaleKit's operations use, in one place.
///
/// Attribute keys follow OpenTelemetry's semantic conventions where one
/// exists (`db.system`, `db.operation`, `server.address`, `server.port`);
/// ScaleKit's own are under `scalekit.`. Spans never carry a secret or a
/// bound value: no URL with credentials, no video or job id, no patch.
///
/// Every span is started through swift-distributed-tracing's global tracer
/// (`InstrumentationSystem`). With none bootstrapped, no span is started at
/// all and attributes are never built: a plain `withSpan` with a no-op
/// tracer still costs two allocations per call (Benchmarks/TracingBenchmarks
/// measures both), which a library on every request should not charge.
package enum ScaleKitSpan {
    /// What `body` gets when no tracer is installed: records nothing.
    private static let notRecording = NoOpTracer.NoOpSpan(context: .topLevel)

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
            span.set(dbSystem, system)
            span.set(dbOperation, name)
            let result = try await body()
            if let outcome = outcome(result) { span.set("scalekit.claim.outcome", outcome) }
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
        if InstrumentationSystem.tracer is NoOpTracer { return try await body(notRecording) }
        return try await withSpan(name, ofKind: kind, isolation: isolation) { span in
            do {
                return try await body(span)
            } catch {
                span.setStatus(SpanStatus(code: .error))
                throw error
            }
        }
    }
}

extension Span {
    /// Sets one attribute, only when the span records: on a span that does
    /// not, building the attribute dictionary would be an allocation for nothing.
    package func set(_ key: String, _ value: some SpanAttributeConvertible) {
        if isRecording { attributes[key] = value.toSpanAttribute() }
    }
}
