extension AudioMixing {
    /// ``join(_:into:progress:)`` with progress handed to an async consumer,
    /// so publishing it is one line:
    ///
    /// ```swift
    /// let summary = try await mixer.join(join, into: output, onProgress: { progress in
    ///     _ = try await statusTracker.updateStatus(jobID, progress: progress.fractionCompleted)
    /// })
    /// ```
    ///
    /// See ``mix(_:into:onProgress:)`` for how reports are delivered.
    public func join(
        _ join: AudioJoin, into output: AudioOutput, onProgress: @escaping @Sendable (AudioProgress) async throws -> Void
    ) async throws -> AudioMixSummary {
        try await renderReportingProgress(onProgress) { handler in try await self.join(join, into: output, progress: handler) }
    }

    /// ``mix(_:into:progress:)`` with progress handed to an async consumer
    /// (for example a status tracker), which may await and throw.
    ///
    /// The render never waits for the consumer: reports go through a buffer
    /// of one, so a consumer slower than the render skips to the latest
    /// report instead of holding the render back or piling reports up. Every
    /// report the consumer was handed has been awaited before this returns.
    /// If the consumer throws, the render is cancelled and its error is
    /// thrown; if the render fails, the consumer is cancelled.
    public func mix(
        _ timeline: AudioTimeline, into output: AudioOutput, onProgress: @escaping @Sendable (AudioProgress) async throws -> Void
    ) async throws -> AudioMixSummary {
        try await renderReportingProgress(onProgress) { handler in try await self.mix(timeline, into: output, progress: handler) }
    }
}

/// Runs `render` with a synchronous handler that feeds `consumer` through a
/// newest-only buffer, both as children of one task group.
private func renderReportingProgress(
    _ consumer: @escaping @Sendable (AudioProgress) async throws -> Void,
    _ render: @escaping @Sendable (@escaping AudioProgressHandler) async throws -> AudioMixSummary
) async throws -> AudioMixSummary {
    let (reports, continuation) = AsyncStream.makeStream(of: AudioProgress.self, bufferingPolicy: .bufferingNewest(1))
    return try await withThrowingTaskGroup(of: AudioMixSummary?.self) { group in
        group.addTask {
            for await report in reports { try await consumer(report) }
            return nil
        }
        group.addTask {
            defer { continuation.finish() }
            return try await render { continuation.yield($0) }
        }
        var summary: AudioMixSummary?
        do {
            while let result = try await group.next() {
                if let result { summary = result }
            }
        } catch {
            continuation.finish()
            group.cancelAll()
            throw error
        }
        guard let summary else { throw ScaleKitError(.cancelled, "the render ended without a summary") }
        return summary
    }
}
