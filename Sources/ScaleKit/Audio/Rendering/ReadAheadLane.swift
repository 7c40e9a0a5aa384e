import Foundation

/// Opens and reads a render's sources ahead of the mix, on a thread of its own.
///
/// A lane is given its inputs in the order the render needs them, each with
/// the output frame where it starts. Its thread opens them and reads them a
/// chunk at a time into per-source queues, always working on the input whose
/// next frame comes first in the output, and never further than
/// `lookAheadFrames` past the window the render asks for (``advance(to:)``).
/// So the decoding and resampling of upcoming clips run beside the mix and the
/// encoder, and what is held is bounded by the look-ahead times the clips
/// audible in it, whatever the number of clips or the output's length.
///
/// Each source is read by the lane's thread only, from its opening until it
/// ends; the render reads the frames through ``source(_:)``'s
/// ``PCMFrameSource``, which waits for them when the lane is behind. Errors
/// (opening or reading) are kept with their input and thrown to the render
/// when it reaches that input, so it fails as it would reading the source
/// itself. ``stop()`` ends the thread and releases every source; the owner
/// calls it when the render ends, however it ends (the thread keeps the lane
/// alive until then).
///
/// The thread blocks in FFmpeg (or file) calls and on its condition, never on
/// Swift's cooperative pool; the render waits only on its own queue.
package final class ReadAheadLane: @unchecked Sendable {
    /// An input: where its frames start in the output (before any leading frames).
    package struct Input {
        package var startFrame: Int
        package init(startFrame: Int) { self.startFrame = startFrame }
    }

    /// Opens input `index` (called on the lane's thread only).
    package typealias Opener = (_ index: Int) throws -> any PCMFrameSource

    // Everything below is guarded by `condition`, except `sources`, which the lane's thread alone touches.
    private let condition = NSCondition()
    private let inputs: [Input]
    private let open: Opener
    private let channels: Int
    private let chunkFrames: Int
    private let lookAheadFrames: Int
    private let maximumLeadFrames: Int
    private var streams: [Stream] = []
    /// Indices of opened streams still being read, in input order.
    private var live: [Int] = []
    private var nextToOpen = 0
    private var horizon = 0
    private var stopping = false
    private var threadEnded = false
    private var spareChunks: [[Float]] = []
    /// The opened sources, by input index: the lane's thread only.
    private var sources: [Int: any PCMFrameSource] = [:]
    /// Sources the render let go of before their end, to close outside the lock: the lane's thread only.
    private var abandoned: [Int] = []

    fileprivate final class Stream {
        var opened = false
        var openError: (any Error)?
        var readError: (any Error)?
        var ended = false
        var leadingFrames = 0
        var estimatedFrames: Int?
        var gainApplied = false
        /// Frames read from the source so far.
        var produced = 0
        var chunks: [[Float]] = []
        var chunkFrames: [Int] = []
        /// Frames of `chunks[0]` already handed out.
        var consumedInFirst = 0
        var released = false
    }

    /// Starts the lane's thread.
    /// - Parameters:
    ///   - inputs: in the order the render takes them (``source(_:)``), by start frame.
    ///   - maximumLeadFrames: how early before its start frame an input may deliver frames (opened that early).
    package init(
        label: String, inputs: [Input], channels: Int, chunkFrames: Int = 4_096, lookAheadFrames: Int, maximumLeadFrames: Int = 0,
        open: @escaping Opener
    ) {
        self.inputs = inputs
        self.open = open
        self.channels = channels
        self.chunkFrames = max(64, chunkFrames)
        self.lookAheadFrames = max(0, lookAheadFrames)
        self.maximumLeadFrames = max(0, maximumLeadFrames)
        streams = inputs.map { _ in Stream() }
        let thread = Thread { [self] in run() }
        thread.name = label
        thread.start()
    }

    /// Lets the lane read up to `frame` + the look-ahead (the end of the window being rendered).
    package func advance(to frame: Int) {
        condition.lock()
        if frame > horizon {
            horizon = frame
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Input `index` opened, waiting for the lane if needed; throws the opening's error.
    /// Take each input once, in order.
    package func source(_ index: Int) throws -> any PCMFrameSource {
        condition.lock()
        defer { condition.unlock() }
        let stream = streams[index]
        // Inputs are opened in order and only up to the horizon: ask for it now.
        if inputs[index].startFrame - maximumLeadFrames >= horizon + lookAheadFrames {
            horizon = inputs[index].startFrame - maximumLeadFrames - lookAheadFrames + 1
            condition.broadcast()
        }
        while !stream.opened, !threadEnded { condition.wait() }
        if let error = stream.openError { throw error }
        guard stream.opened else { throw ScaleKitError(.cancelled, "the audio render was stopped") }
        return ReadAheadSource(lane: self, index: index, stream: stream)
    }

    /// Ends the thread (after the chunk or opening it is busy with) and releases every source. Idempotent.
    package func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !threadEnded { condition.wait() }
        condition.unlock()
    }

    // MARK: The render's side

    /// Copies up to `frames` frames of input `index` into `buffer`, waiting for the lane.
    fileprivate func read(_ stream: Stream, into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        var copied = 0
        while copied < frames {
            if let first = stream.chunks.first {
                let available = stream.chunkFrames[0] - stream.consumedInFirst
                let count = min(available, frames - copied)
                first.withUnsafeBufferPointer {
                    (buffer + copied * channels).update(from: $0.baseAddress! + stream.consumedInFirst * channels, count: count * channels)
                }
                copied += count
                stream.consumedInFirst += count
                if stream.consumedInFirst == stream.chunkFrames[0] {
                    spareChunks.append(stream.chunks.removeFirst())
                    stream.chunkFrames.removeFirst()
                    stream.consumedInFirst = 0
                }
                continue
            }
            if stream.ended {
                if let error = stream.readError { throw error }
                break
            }
            if threadEnded { throw ScaleKitError(.cancelled, "the audio render was stopped") }
            condition.wait()
        }
        return copied
    }

    /// The render is done with a source: its queued frames go.
    fileprivate func release(_ stream: Stream) {
        condition.lock()
        stream.released = true
        spareChunks.append(contentsOf: stream.chunks)
        stream.chunks.removeAll()
        stream.chunkFrames.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    // MARK: The lane's thread

    private enum Work {
        case open(Int)
        case read(Int)
    }

    /// The buffer the next `.read` fills: the lane's thread only. Held here, not
    /// in `Work`, so that it is uniquely referenced when written (no copy on write).
    private var workChunk: [Float] = []

    private func run() {
        condition.lock()
        while let work = nextWork() {
            condition.unlock()
            for index in abandoned { sources[index] = nil }
            abandoned.removeAll()
            switch work {
            case .open(let index): openInput(index)
            case .read(let index): readChunk(index)
            }
            condition.lock()
        }
        condition.unlock()
        sources.removeAll()  // closes decoders on this thread
        condition.lock()
        threadEnded = true
        condition.broadcast()
        condition.unlock()
    }

    /// What to do next, waiting while nothing is due; `nil` ends the thread. Called with the lock held.
    private func nextWork() -> Work? {
        while true {
            if stopping { return nil }
            for index in live where streams[index].released && !streams[index].ended { abandoned.append(index) }
            live.removeAll { streams[$0].ended || streams[$0].released }
            // The input whose next frame comes first in the output.
            var best: (frame: Int, work: Int, opens: Bool)?
            for index in live {
                let frame = inputs[index].startFrame - streams[index].leadingFrames + streams[index].produced
                if best == nil || frame < best!.frame { best = (frame, index, false) }
            }
            if nextToOpen < inputs.count {
                let frame = inputs[nextToOpen].startFrame - maximumLeadFrames
                if best == nil || frame < best!.frame { best = (frame, nextToOpen, true) }
            }
            guard let best else {
                // Everything is opened and read to its end: wait for stop().
                condition.wait()
                continue
            }
            guard best.frame < horizon + lookAheadFrames else {
                condition.wait()
                continue
            }
            if best.opens {
                nextToOpen += 1
                return .open(best.work)
            }
            workChunk = spareChunks.popLast() ?? [Float](repeating: 0, count: chunkFrames * channels)
            return .read(best.work)
        }
    }

    private func openInput(_ index: Int) {
        let stream = streams[index]
        do {
            let source = try open(index)
            sources[index] = source
            condition.lock()
            stream.leadingFrames = source.leadingFrames
            stream.estimatedFrames = source.estimatedFrames
            stream.gainApplied = source.gainApplied
            stream.opened = true
            live.append(index)
            live.sort()
        } catch {
            condition.lock()
            stream.openError = error
            stream.opened = true
            stream.ended = true
        }
        condition.broadcast()
        condition.unlock()
    }

    private func readChunk(_ index: Int) {
        var chunk: [Float] = []
        swap(&chunk, &workChunk)
        let stream = streams[index]
        var got = 0
        var failure: (any Error)?
        if let source = sources[index] {
            do {
                got = try chunk.withUnsafeMutableBufferPointer { try source.read(into: $0.baseAddress!, frames: chunkFrames) }
            } catch {
                failure = error
            }
        }
        let ended = got < chunkFrames || failure != nil
        if ended { sources[index] = nil }
        condition.lock()
        stream.produced += got
        if got > 0, !stream.released {
            stream.chunks.append(chunk)
            stream.chunkFrames.append(got)
        } else {
            spareChunks.append(chunk)
        }
        if ended {
            stream.readError = failure
            stream.ended = true
        }
        condition.broadcast()
        condition.unlock()
    }
}

/// The render's view of one input of a ``ReadAheadLane``.
private final class ReadAheadSource: PCMFrameSource {
    private let lane: ReadAheadLane
    private let stream: ReadAheadLane.Stream
    let estimatedFrames: Int?
    let gainApplied: Bool
    let leadingFrames: Int

    init(lane: ReadAheadLane, index: Int, stream: ReadAheadLane.Stream) {
        self.lane = lane
        self.stream = stream
        estimatedFrames = stream.estimatedFrames
        gainApplied = stream.gainApplied
        leadingFrames = stream.leadingFrames
    }

    deinit { lane.release(stream) }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        try lane.read(stream, into: buffer, frames: frames)
    }
}
