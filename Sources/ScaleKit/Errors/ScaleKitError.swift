/// The one error type every ScaleKit backend throws.
///
/// Match on ``code`` (a struct of static constants, so new codes never break
/// an existing `switch` with a `default:`), read ``message`` for humans, and
/// ``nativeCode`` for the underlying library's code (a hiredis `REDIS_ERR_*`,
/// a PostgreSQL SQLSTATE, an SQLite result code, an FFmpeg `AVERROR`).
///
/// The description never contains a password or a bound SQL argument: URLs
/// are redacted before they are put in a message, and SQL errors carry the
/// statement's name, never its values. Nor does it contain the text of an
/// error ScaleKit does not control: an ``underlying`` error is named by its
/// type (a wrapped `ScaleKitError` by its own description), and read the
/// ``underlying`` value itself for its details. Each cause is printed once.
///
/// The fields are read-only outside ScaleKit: an error describes what
/// happened and is not edited on its way up.
public struct ScaleKitError: Error, Sendable, CustomStringConvertible {
    /// A stable identifier for what went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration
            case invalidArgument
            case connectionFailed
            case timeout
            case poolExhausted
            case poolShutDown
            case connectionClosed
            case conflict
            case serverError
            case protocolError
            case corruptData
            case ioError
            case notClaimHolder
            case notFound
            case unsupported
            case audioDecoding
            case audioEncoding
            case invalidTimeline
            case cancelled
            case databaseError
            case constraintViolation
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A configuration value (usually an environment variable) is malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// An argument is out of range or malformed (an empty id, a negative start, a non-object patch).
        public static let invalidArgument = Code(.invalidArgument)
        /// A server could not be reached; raised fast, never after a pool wait.
        public static let connectionFailed = Code(.connectionFailed)
        /// A connect or command timeout fired.
        public static let timeout = Code(.timeout)
        /// No pooled connection became free within the pool timeout.
        public static let poolExhausted = Code(.poolExhausted)
        /// The pool (or client) was shut down.
        public static let poolShutDown = Code(.poolShutDown)
        /// A connection (or a single-connection database) was used after it
        /// was closed, by its owner or by the server.
        /// Nothing was sent. A pool discards a connection that throws this
        /// and opens a new one; the caller may retry on another connection.
        public static let connectionClosed = Code(.connectionClosed)
        /// Optimistic concurrency gave up: other writers kept changing the
        /// same record (a Redis `WATCH` that failed on every attempt). Nothing
        /// was written; the caller may retry later.
        public static let conflict = Code(.conflict)
        /// The server answered with an error (a Redis error reply, for example).
        public static let serverError = Code(.serverError)
        /// The server's answer did not have the expected shape.
        public static let protocolError = Code(.protocolError)
        /// Stored data could not be decoded (a corrupt tracker file or status document).
        public static let corruptData = Code(.corruptData)
        /// A file system operation failed.
        public static let ioError = Code(.ioError)
        /// The caller's claim token does not hold the video's claim (any more):
        /// the repository refused to complete, fail or renew, or a status
        /// tracker refused a fenced write because a later claim has written.
        public static let notClaimHolder = Code(.notClaimHolder)
        /// The named record does not exist.
        public static let notFound = Code(.notFound)
        /// The operation is not available with this backend or build (TLS with hiredis 0.14).
        public static let unsupported = Code(.unsupported)
        /// An audio input could not be opened or decoded.
        public static let audioDecoding = Code(.audioDecoding)
        /// The audio output could not be encoded or written.
        public static let audioEncoding = Code(.audioEncoding)
        /// A timeline or join request is malformed.
        public static let invalidTimeline = Code(.invalidTimeline)
        /// The task was cancelled and the operation stopped: before it began
        /// (nothing ran), or inside the C library, which cancellation reaches
        /// (a PostgreSQL cancel request, `sqlite3_interrupt`, a Redis socket
        /// shut down). A cancelled SQL statement rolled back; a Redis command
        /// whose reply was cut off may have run. The connection is then clean
        /// or closed, never handed out in a half-finished state.
        public static let cancelled = Code(.cancelled)
        /// The database reported an error; ``ScaleKitError/nativeCode`` holds the SQLSTATE or result code.
        public static let databaseError = Code(.databaseError)
        /// A database constraint was violated.
        public static let constraintViolation = Code(.constraintViolation)

        public var description: String { base.rawValue }
    }

    /// What went wrong, stable across releases.
    public internal(set) var code: Code
    /// A human-readable explanation, free of secrets.
    public internal(set) var message: String
    /// The underlying library's code, if any: a SQLSTATE such as `"23505"`,
    /// an SQLite or hiredis result code, an FFmpeg error number.
    public internal(set) var nativeCode: String?
    /// The underlying error, if this error wraps another one. Its own text is
    /// not part of ``description``; inspect it here.
    public internal(set) var underlying: (any Error & Sendable)?

    /// Creates an error of `code` with a message for humans.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: An explanation free of secrets and of bound arguments; it
    ///     should not repeat `underlying`'s text, which ``description`` leaves out.
    ///   - nativeCode: The underlying library's code, if any.
    ///   - underlying: The error this one wraps, if any.
    public init(
        _ code: Code,
        _ message: String,
        nativeCode: String? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.nativeCode = nativeCode
        self.underlying = underlying
    }

    public var description: String {
        var text = "ScaleKitError.\(code): \(message)"
        if let nativeCode { text += " [\(nativeCode)]" }
        if let cause = causeDescription { text += " (caused by: \(cause))" }
        return text
    }

    /// The cause as ``description`` prints it: a wrapped ScaleKitError's own
    /// description, unless the message already quotes it, or the type name
    /// of any other error, whose text ScaleKit does not control.
    private var causeDescription: String? {
        guard let underlying else { return nil }
        if let inner = underlying as? ScaleKitError {
            return message.contains(inner.message) ? nil : inner.description
        }
        return String(describing: type(of: underlying))
    }
}
