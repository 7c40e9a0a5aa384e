import ScaleKit
import Synchronization
import Testing

/// The renderer opens a clip only when the output reaches it and releases it
/// when it ends, so the number of open decoders stays bounded by what plays.
@Suite struct StreamingRenderTests {
    final class Counter: Sendable {
        let state = Mutex((open: 0, maximum: 0, opened: 0))
        func opened() { state.withLock { $0.open += 1; $0.opened += 1; $0.maximum = max($0.maximum, $0.open) } }
        func closed() { state.withLock { $0.open -= 1 } }
    }

    /// A constant-valued source that counts how many instances are alive.
    final class CountingSource: PCMFrameSource {
        let counter: Counter
        var remaining: Int
        let value: Float
        init(counter: Counter, frames: Int, value: Float) {
            self.counter = counter
            remaining = frames
            self.value = value
            counter.opened()
        }
        deinit { counter.closed() }
        var estimatedFrames: Int? { nil }
        func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
            let count = min(frames, remaining)
            for i in 0..<count { buffer[i] = value }
            remaining -= count
            return count
        }
    }

    @Test func atMostThePlayingClipsAreOpen() throws {
        let format = AudioFormat(sampleRate: 1_000, channels: 1)
        let counter = Counter()
        // 1 000 clips of 0.5 s every second, over a 1 001 s background.
        let clips = (0..<1_000).map { TimelineClip(source: .pcm(PCMBuffer(silenceOf: 500, format: format), name: "c\($0)"), start: Double($0) + 0.5) }
        let background = BackgroundTrack(source: .pcm(PCMBuffer(silenceOf: 1, format: format), name: "bg"))
        let job = try TimelineRenderJob(
            timeline: AudioTimeline(clips: clips, background: background), output: RenderOutput(output: .memory(format: format), sink: nil)
        ) { source, role in
            role.role == "background"
                ? CountingSource(counter: counter, frames: 1_001 * 1_000, value: 0.01)
                : CountingSource(counter: counter, frames: 500, value: 0.1)
        }
        while try job.renderNextWindow() {}
        let state = counter.state.withLock { $0 }
        #expect(state.opened == 1_001)
        #expect(state.maximum <= 3, "background + at most the clips in one window")
        let summary = job.summary()
        #expect(summary.frames == 1_001 * 1_000)
        #expect(abs((summary.pcm?[500 + 10, 0] ?? 0) - 0.11) < 1e-6)
    }
}
