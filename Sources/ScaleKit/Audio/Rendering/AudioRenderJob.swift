/// One join or mix in progress, advanced a window at a time by ``runRenderJob(label:progress:make:)``.
package protocol AudioRenderJob: AnyObject {
    /// Renders and emits the next window; returns `false` once the output is complete and committed.
    func renderNextWindow() throws -> Bool
    /// Where the job stands.
    var progress: AudioProgress { get }
    /// The result; valid after `renderNextWindow()` returned `false`.
    func summary() -> AudioMixSummary
    /// Stops and removes any partial output.
    func abort()
}

/// Default window: a quarter of a second of output (progress and cancellation granularity).
package let defaultWindowSeconds = 0.25
