import CHiredis
import Dispatch
import Logging
import ScaleKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One connection to a Redis server that carries the commands of every task
/// at once (auto-pipelining), driven by the process's ``RedisEventLoop``.
///
/// A call formats its commands (RESP) on its own thread, appends them to the
/// connection's outgoing bytes and its request to a FIFO, and suspends. The
/// loop writes whatever has gathered in one `send` (or `SSL_write`) and, as
/// replies arrive, parses them with hiredis's `redisReader` and hands them
/// to the requests in order. While one batch is on the wire the next one
/// gathers, so sixteen tasks cost the server one read and the client one
/// write per batch instead of one each. A call's commands always go out
/// back to back, so `ASKING` before a command, or `EVALSHA` then `WAIT`,
/// stay adjacent.
///
/// Failures, as ``RedisConnection`` has them:
/// - The first call (and the first after a failure) connects and
///   authenticates off the loop, on a Dispatch thread; calls that arrive
///   meanwhile wait for it and fail with its error when it fails.
/// - A reply that does not come within the command timeout fails every call
///   waiting on the connection with `timeout` and closes it: the server is
///   not answering, and a late reply could not be matched any more. For a
///   call that waited for the connection to open, the command timeout counts
///   from the moment it opened, so no call waits longer than the connect
///   and command timeouts together, and none gets less than the command timeout.
/// - A lost connection fails every call waiting on it (their commands may
///   have run); the next call connects again. A server that closes an idle
///   connection (restart, `CLIENT KILL`) is noticed by the loop at once, so
///   the next call goes to a new connection.
/// - A cancelled call returns `cancelled` at once; its reply, when it comes,
///   is read and dropped, so the stream stays in step.
final class RedisMultiplexedConnection: RedisCommandExecutor, Sendable {
    let configuration: RedisConnectionConfiguration
    private let loop: RedisEventLoop
    private let logger: Logger
    private let state = SanitizerVisibleMutex(State())
    /// The socket and the parser, touched only by the loop's thread.
    private let wire = LoopThreadWire()

    private enum Phase { case disconnected, connecting, open, closed }

    private struct State {
        var phase = Phase.disconnected
        /// Formatted commands not yet sealed and written.
        var outgoing: [UInt8] = []
        /// Wire bytes a writing caller sealed that the socket did not take:
        /// they go out before anything else.
        var sealedBacklog: [UInt8] = []
        /// Every call whose commands are in `outgoing` or on the wire, oldest first.
        var waiting = RequestQueue()
        /// The loop has been asked to write `outgoing`.
        var isFlushScheduled = false
        /// Who may write to the socket now; bytes go out in the order of
        /// `waiting` because only one writer at a time holds this.
        var writer = Writer.none
        /// The open socket, which a caller may write to itself when no one
        /// else is writing (over TLS: and no call awaits a reply); `nil`
        /// while there is none.
        var directStream: StreamHandoff?
        /// Counts the sockets this connection has dropped, so a caller that
        /// was writing to one can tell it is gone when it is done.
        var dropCount = 0
        /// Sockets dropped while a caller was writing to them: the caller
        /// closes each when its `send` returns, so the descriptor cannot be
        /// reused by another socket under that `send`.
        var closedByWriter: [Int32: StreamHandoff] = [:]
    }

    private enum Writer: Equatable {
        case none
        /// The loop's thread, with bytes in `wire.unwritten`.
        case loop
        /// A caller on its own thread, sealing and writing its command and
        /// whatever gathered meanwhile, with non-blocking `send`s.
        case caller
    }

    /// How many times a writing caller also sends what other calls gathered
    /// while it wrote, before it leaves the rest to the loop.
    private static let callerWriteRounds = 4

    /// The loop thread's side of the connection.
    private final class LoopThreadWire: @unchecked Sendable {
        var stream: (any RedisByteStream)?
        let replies = RedisFlatReplyReader()
        /// Wire bytes the loop sealed (or took from `sealedBacklog`) that the socket has not taken yet.
        var unwritten: [UInt8] = []
        /// Where the loop takes `outgoing` to seal it (kept for its capacity).
        var unsealed: [UInt8] = []
        var unwrittenOffset = 0
        var isWatchingWritable = false
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    }

    init(configuration: RedisConnectionConfiguration, loop: RedisEventLoop = .shared, logger: Logger) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
    }

    // MARK: Calls (any thread)

    func pipeline(_ commands: [RedisCommand]) async throws(ScaleKitError) -> [RedisValue] {
        if commands.isEmpty { return [] }
        if Task.isCancelled { throw ScaleKitError(.cancelled, "the task was cancelled before \(commands[0].name) was sent") }
        var bytes: [UInt8] = []
        RESP.append(commands, to: &bytes)
        let request = Request(
            replyCount: commands.count, deadline: ContinuousClock.now.advanced(by: configuration.commandTimeout), command: commands[0])
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in enqueue(request, bytes: bytes, continuation: continuation) }
        } onCancel: {
            cancel(request)
        }
        return try result.get()
    }

    /// Connects now unless the connection is open: a `PING` when it is not.
    ///
    /// - Throws: what connecting throws (nothing else was sent).
    func connectIfNeeded() async throws(ScaleKitError) {
        guard state.withLock({ $0.phase != .open }) else { return }
        _ = try await pipeline([RedisCommand("PING")])
    }

    /// Dropped sockets that a writing caller has yet to close (0 once every `send` on them returned; for tests).
    package var socketsAwaitingTheirWriter: Int { state.withLock { $0.closedByWriter.count } }

    /// Closes the connection; calls still waiting fail with `connectionClosed`, later calls too.
    func close() {
        state.withLock { $0.phase = .closed }
        loop.execute { [self] in fail(ScaleKitError(.connectionClosed, "the Redis connection to \(configuration) is closed")) }
    }

    private func enqueue(_ request: Request, bytes: [UInt8], continuation: Request.Continuation) {
        enum Next { case nothing, write(StreamHandoff, drops: Int), connect, flush, refuse(ScaleKitError) }
        let next = state.withLock { state -> Next in
            if request.isCancelled {
                return .refuse(ScaleKitError(.cancelled, "the task was cancelled before \(request.name) was sent"))
            }
            if state.phase == .closed {
                return .refuse(ScaleKitError(.connectionClosed, "the Redis connection to \(configuration) is closed"))
            }
            request.continuation = continuation
            let isIdle = state.waiting.first == nil
            state.waiting.append(request)
            if state.phase == .open, state.writer == .none, !state.isFlushScheduled, state.outgoing.isEmpty, state.sealedBacklog.isEmpty,
                let stream = state.directStream, isIdle || stream.stream.isPlain
            {
                // No one is writing and nothing is queued: this caller writes
                // its command now, from its own thread, instead of waking the
                // loop to do it (a thread hand-off less per call). Over TLS
                // only when no reply is awaited either: redis-server reads one
                // TLS record per turn of its event loop, so while calls are in
                // flight the loop's batches, one record each, cost it less
                // than a record per caller.
                state.writer = .caller
                return .write(stream, drops: state.dropCount)
            }
            state.outgoing.append(contentsOf: bytes)
            switch state.phase {
            case .disconnected:
                state.phase = .connecting
                return .connect
            case .open where !state.isFlushScheduled && state.writer != .caller:
                // (A writing caller sends what gathers meanwhile, or schedules this itself.)
                state.isFlushScheduled = true
                return .flush
            default:
                return .nothing
            }
        }
        switch next {
        case .nothing: break
        case .write(let stream, let drops):
            writeAsCaller(bytes, to: stream.stream, drops: drops)
            loop.watchDeadlines()
        case .connect: DispatchQueue.global().async { [self] in connect() }
        case .flush: loop.execute { [self] in flush() }
        case .refuse(let error): continuation.resume(returning: .failure(error))
        }
    }

    /// Seals and writes `bytes`, then what other calls gathered meanwhile
    /// (a few rounds), with non-blocking `send`s outside the lock; wire
    /// bytes the socket does not take go to the loop, ahead of anything
    /// newer. The caller holds the writer's place until it is done.
    private func writeAsCaller(_ bytes: [UInt8], to stream: any RedisByteStream, drops: Int) {
        enum After { case done, sendMore, flush, close(StreamHandoff?), fail(ScaleKitError) }
        var pending = bytes
        var rounds = 1
        while true {
            let sealingError = stream.seal(&pending)
            let written = sealingError != nil ? 0 : pending.withUnsafeBytes { stream.send($0) }
            let after = state.withLock { state -> After in
                guard state.dropCount == drops else {
                    // The socket failed meanwhile: its calls have failed, and
                    // the writer's place belongs to the next socket.
                    return .close(state.closedByWriter.removeValue(forKey: stream.descriptor))
                }
                if let sealingError {
                    state.writer = .none
                    return .fail(sealingError)
                }
                if written == pending.count, !state.outgoing.isEmpty, rounds < Self.callerWriteRounds {
                    rounds += 1
                    swap(&pending, &state.outgoing)
                    state.outgoing.removeAll(keepingCapacity: true)
                    return .sendMore
                }
                state.writer = .none
                if written < pending.count {
                    // The rest (or all, after an error the loop will meet too) goes first.
                    state.sealedBacklog = Array(pending[max(0, written)...])
                }
                guard !state.outgoing.isEmpty || !state.sealedBacklog.isEmpty, !state.isFlushScheduled else { return .done }
                state.isFlushScheduled = true
                return .flush
            }
            switch after {
            case .sendMore: continue
            case .done: return
            case .flush:
                loop.execute { [self] in flush() }
                return
            case .close(let handoff):
                handoff?.stream.close()
                return
            case .fail(let error):
                loop.execute { [self] in failIfStill(drops: drops, error) }
                return
            }
        }
    }

    private func cancel(_ request: Request) {
        let continuation = state.withLock { _ -> Request.Continuation? in
            request.isCancelled = true
            defer { request.continuation = nil }
            return request.continuation
        }
        continuation?.resume(
            returning: .failure(
                ScaleKitError(.cancelled, "the task was cancelled while waiting for the reply to \(request.name) (the command may have run)")))
    }

    /// Connects and authenticates (blocking, on a Dispatch thread), then gives the socket to the loop.
    private func connect() {
        do {
            let handoff = StreamHandoff(stream: try openRedisByteStream(configuration))
            loop.execute { [self] in attach(handoff.stream) }
        } catch {
            logger.debug("Redis connection failed", metadata: ["server": "\(configuration)", "error": "\(error)"])
            let waiting = state.withLock { state -> [Request] in
                if state.phase == .connecting { state.phase = .disconnected }
                state.outgoing.removeAll()
                return state.waiting.removeAll()
            }
            finish(waiting, with: error)
        }
    }

    // MARK: On the loop's thread

    private func attach(_ stream: any RedisByteStream) {
        let isClosed = state.withLock { state -> Bool in
            guard state.phase == .connecting else { return true }
            state.phase = .open
            state.isFlushScheduled = false
            // Calls that waited for the connection get the whole command
            // timeout for their replies from now: connecting had its own timeout.
            state.waiting.extendDeadlines(toAtLeast: ContinuousClock.now.advanced(by: configuration.commandTimeout))
            state.directStream = StreamHandoff(stream: stream)
            return false
        }
        if isClosed {
            stream.close()
            return
        }
        wire.stream = stream
        loop.register(stream.descriptor, for: self)
        flush()
    }

    /// Takes what the calls have gathered, seals it and writes as much as the socket takes.
    private func flush() {
        guard let stream = wire.stream else { return }
        let isCallerWriting = state.withLock { state -> Bool in
            state.isFlushScheduled = false
            // A writing caller sends what gathered, or schedules a flush when it is done.
            if state.writer == .caller { return true }
            state.writer = .loop
            Self.move(&state.sealedBacklog, to: &wire.unwritten)
            swap(&wire.unsealed, &state.outgoing)
            return false
        }
        if isCallerWriting { return }
        if !wire.unsealed.isEmpty || stream.hasSealedBytesWaiting {
            // Sealed outside the lock: only the writer's place holder seals, so the order holds.
            if let error = stream.seal(&wire.unsealed) {
                fail(error)
                return
            }
            Self.move(&wire.unsealed, to: &wire.unwritten)
        }
        writeUnwritten()
    }

    /// Appends `bytes` to `destination` (by swapping when it is empty) and empties `bytes`, keeping capacity.
    private static func move(_ bytes: inout [UInt8], to destination: inout [UInt8]) {
        if bytes.isEmpty { return }
        if destination.isEmpty {
            swap(&bytes, &destination)
        } else {
            destination.append(contentsOf: bytes)
        }
        bytes.removeAll(keepingCapacity: true)
    }

    private func writeUnwritten() {
        guard let stream = wire.stream else { return }
        while wire.unwrittenOffset < wire.unwritten.count {
            let count = wire.unwritten.withUnsafeBytes { bytes in
                stream.send(UnsafeRawBufferPointer(rebasing: bytes[wire.unwrittenOffset...]))
            }
            if count >= 0 {
                wire.unwrittenOffset += count
                continue
            }
            let code = errno
            guard code == EAGAIN || code == EWOULDBLOCK else {
                fail(
                    ScaleKitError(
                        .connectionFailed, "failed writing to \(configuration): \(String(cString: strerror(code)))", nativeCode: "errno \(code)"))
                return
            }
            if !wire.isWatchingWritable {
                wire.isWatchingWritable = true
                loop.watchWritable(stream.descriptor, true)
            }
            return
        }
        wire.unwritten.removeAll(keepingCapacity: true)
        wire.unwrittenOffset = 0
        state.withLock { $0.writer = .none }
        if wire.isWatchingWritable {
            wire.isWatchingWritable = false
            loop.watchWritable(stream.descriptor, false)
        }
    }

    /// What `epoll` reported for the socket.
    func handle(events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 { writeUnwritten() }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { readAvailable() }
    }

    private func readAvailable() {
        guard let stream = wire.stream else { return }
        var replies: [RedisValue] = []
        reading: while true {
            let outcome = wire.readBuffer.withUnsafeMutableBytes { stream.read(into: $0) }
            switch outcome {
            case .bytes(let count):
                let fed = wire.readBuffer.withUnsafeBytes { bytes in wire.replies.feed(UnsafeRawBufferPointer(rebasing: bytes[..<count])) }
                guard fed else {
                    fail(ScaleKitError(.connectionFailed, "cannot buffer the reply from \(configuration): out of memory"))
                    return
                }
                do {
                    while let reply = try wire.replies.next() { replies.append(reply) }
                } catch {
                    deliver(replies)
                    fail(ScaleKitError(.protocolError, "the reply from \(configuration) is not valid RESP", nativeCode: "REDIS_ERR_PROTOCOL"))
                    return
                }
                if count < wire.readBuffer.count && stream.isPlain { break reading }
            case .wouldBlock:
                break reading
            case .failed(let error):
                deliver(replies)
                fail(error)
                return
            }
        }
        deliver(replies)
        // (Unless delivering found the stream out of step and dropped it.)
        if wire.stream === stream, stream.hasSealedBytesWaiting { scheduleFlushIfIdle() }
    }

    /// Reading made the TLS session write records of its own (rare: an
    /// answer to the server's key update): a flush sends them unless a writer is at work.
    private func scheduleFlushIfIdle() {
        let mustFlush = state.withLock { state -> Bool in
            guard state.writer == .none, !state.isFlushScheduled else { return false }
            state.isFlushScheduled = true
            return true
        }
        if mustFlush { loop.execute { [self] in flush() } }
    }

    /// Hands `replies` to the waiting calls in order.
    private func deliver(_ replies: [RedisValue]) {
        if replies.isEmpty { return }
        var finished: [(Request.Continuation, [RedisValue])] = []
        let isOutOfStep = state.withLock { state -> Bool in
            for reply in replies {
                guard let request = state.waiting.first else { return true }
                request.replies.append(reply)
                if request.replies.count == request.replyCount {
                    state.waiting.removeFirst()
                    if let continuation = request.continuation {
                        request.continuation = nil
                        finished.append((continuation, request.replies))
                    }
                }
            }
            return false
        }
        for (continuation, replies) in finished { continuation.resume(returning: .success(replies)) }
        if isOutOfStep {
            fail(ScaleKitError(.protocolError, "\(configuration) sent a reply no command asked for", nativeCode: "REDIS_ERR_PROTOCOL"))
        }
    }

    /// When the oldest call's reply is due, or `nil` when no call waits on the socket.
    func oldestDeadline() -> ContinuousClock.Instant? {
        state.withLock { $0.phase == .open ? $0.waiting.first?.deadline : nil }
    }

    /// The oldest call's reply is overdue: the server is not answering.
    func expire() {
        let name = state.withLock { $0.waiting.first?.name } ?? "a command"
        fail(
            ScaleKitError(
                .timeout, "timed out reading the reply to \(name) from \(configuration) after \(configuration.commandTimeout)",
                nativeCode: "ETIMEDOUT"))
    }

    /// Closes the socket and fails every waiting call with `error`; the next call connects again.
    private func fail(_ error: ScaleKitError) {
        if let stream = wire.stream {
            // No caller may start writing to the socket from here on; one
            // that is writing now closes it when its `send` returns.
            let isCallerWriting = state.withLock { state -> Bool in
                state.directStream = nil
                state.dropCount += 1
                guard state.writer == .caller else { return false }
                state.writer = .none
                state.closedByWriter[stream.descriptor] = StreamHandoff(stream: stream)
                return true
            }
            loop.deregister(stream.descriptor)
            if isCallerWriting { shutdown(stream.descriptor, Int32(SHUT_RDWR)) } else { stream.close() }
            wire.stream = nil
            logger.debug("Redis connection dropped", metadata: ["server": "\(configuration)", "error": "\(error)"])
        }
        wire.unwritten.removeAll()
        wire.unsealed.removeAll()
        wire.unwrittenOffset = 0
        wire.isWatchingWritable = false
        // A new connection starts a new reply stream: drop any half-read reply.
        wire.replies.reset()
        let waiting = state.withLock { state -> [Request] in
            if state.phase == .open { state.phase = .disconnected }
            state.outgoing.removeAll()
            state.sealedBacklog.removeAll()
            state.isFlushScheduled = false
            if state.writer == .loop { state.writer = .none }
            return state.waiting.removeAll()
        }
        finish(waiting, with: error)
    }

    /// A caller could not seal its command: fails the socket it meant, unless that one is gone already.
    private func failIfStill(drops: Int, _ error: ScaleKitError) {
        guard state.withLock({ $0.dropCount == drops }) else { return }
        fail(error)
    }

    private func finish(_ requests: [Request], with error: ScaleKitError) {
        let continuations = state.withLock { _ in
            requests.compactMap { request -> Request.Continuation? in
                defer { request.continuation = nil }
                return request.continuation
            }
        }
        for continuation in continuations { continuation.resume(returning: .failure(error)) }
    }
}

/// Moves a freshly opened stream from the connecting thread to the loop's;
/// nothing else holds it meanwhile.
private struct StreamHandoff: @unchecked Sendable {
    let stream: any RedisByteStream
}

/// One call waiting for its replies. Its mutable fields are guarded by the
/// owning connection's state lock.
private final class Request: @unchecked Sendable {
    typealias Continuation = UnsafeContinuation<Result<[RedisValue], ScaleKitError>, Never>
    let replyCount: Int
    /// When the reply is overdue; moved later once if the call waited for the connection to open.
    var deadline: ContinuousClock.Instant
    /// The first command, named only in error messages (so not on every call).
    private let command: RedisCommand
    var continuation: Continuation?
    var replies: [RedisValue] = []
    var isCancelled = false

    init(replyCount: Int, deadline: ContinuousClock.Instant, command: RedisCommand) {
        self.replyCount = replyCount
        self.deadline = deadline
        self.command = command
        replies.reserveCapacity(replyCount)
    }

    var name: String { command.name }
}

/// A FIFO of requests: appends at the back, removals at the front, O(1) amortised.
private struct RequestQueue {
    private var items: [Request] = []
    private var head = 0

    var first: Request? { head < items.count ? items[head] : nil }

    mutating func append(_ request: Request) { items.append(request) }

    mutating func removeFirst() {
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    func extendDeadlines(toAtLeast deadline: ContinuousClock.Instant) {
        for request in items[head...] where request.deadline < deadline { request.deadline = deadline }
    }

    mutating func removeAll() -> [Request] {
        let rest = Array(items[head...])
        items.removeAll(keepingCapacity: true)
        head = 0
        return rest
    }
}

/// Commands in RESP, the way `redisFormatCommandArgv` writes them: an array
/// of bulk strings, so every argument is binary-safe.
package enum RESP {
    static func append(_ commands: [RedisCommand], to bytes: inout [UInt8]) {
        var size = 0
        for command in commands {
            if let wireBytes = command.wireBytes {
                size += wireBytes.count
                continue
            }
            size += 16
            for part in command.parts { size += part.count + 16 }
        }
        bytes.reserveCapacity(bytes.count + size)
        for command in commands {
            if let wireBytes = command.wireBytes {
                bytes.append(contentsOf: wireBytes)
            } else {
                _ = append(command.parts, to: &bytes)
            }
        }
    }

    /// Appends one command's parts; returns where the payload of part
    /// `markedPart` starts in `bytes` (`-1` when there is no such part).
    @discardableResult
    static func append(_ parts: [RedisArgument], to bytes: inout [UInt8], markingPart markedPart: Int = -1) -> Int {
        var marked = -1
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(parts.count, to: &bytes)
        appendNewline(to: &bytes)
        for (index, part) in parts.enumerated() {
            bytes.append(UInt8(ascii: "$"))
            appendDecimal(part.count, to: &bytes)
            appendNewline(to: &bytes)
            if index == markedPart { marked = bytes.count }
            part.append(to: &bytes)
            appendNewline(to: &bytes)
        }
        return marked
    }

    private static func appendNewline(to bytes: inout [UInt8]) {
        bytes.append(13)
        bytes.append(10)
    }

    /// The number of bytes of `value` in decimal (with its sign).
    static func decimalLength(_ value: Int) -> Int {
        var count = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }

    /// `value` in decimal.
    static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        DecimalDigits.append(Int64(value), to: &bytes)
    }
}
