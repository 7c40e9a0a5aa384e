package import ScaleKit

/// One reply from Redis, as a Swift value (RESP2, the protocol hiredis 0.14 speaks).
///
/// Error replies at the top level are thrown as ``/ScaleKit/ScaleKitError`` (code
/// `serverError`, the reply's first word such as `NOSCRIPT` or `WRONGTYPE` as
/// its `nativeCode`); only errors nested in an array (an `EXEC` result)
/// appear as ``error(_:)``.
package enum RedisValue: Sendable, Hashable {
    /// A nil bulk string or nil array (`GET` of a missing key, an aborted `EXEC`).
    case null
    /// A status reply such as `OK` or `QUEUED`.
    case status(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string, binary-safe.
    case bulkString([UInt8])
    /// An array reply.
    case array([RedisValue])
    /// An error reply nested in an array.
    case error(RedisErrorReply)

    /// The bulk string or status as UTF-8 text (invalid bytes repaired), or `nil`.
    package var string: String? {
        switch self {
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The integer, or a bulk string holding a whole number (`GET` of a counter), or `nil`.
    package var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulkString(let bytes): return Int64(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }

    /// The elements of an array reply, or `nil`.
    package var array: [RedisValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is the nil reply.
    package var isNull: Bool { self == .null }
}

/// A Redis error reply: `NOSCRIPT No matching script…`, `WRONGTYPE …`.
package struct RedisErrorReply: Sendable, Hashable, CustomStringConvertible {
    /// The whole error text, as the server sent it.
    package var message: String

    /// An error reply with the server's text.
    package init(message: String) { self.message = message }

    /// The first word of the message (`ERR`, `NOSCRIPT`, `WRONGTYPE`, `WRONGPASS`), Redis's error code.
    package var prefix: String {
        String(message.prefix { $0 != " " })
    }

    /// The server's text (error replies never contain the command's arguments).
    package var description: String { message }

    /// The reply as the error ScaleKit throws: `serverError` with the prefix as `nativeCode`.
    package var scaleKitError: ScaleKitError {
        ScaleKitError(.serverError, Self.thrownPrefix + message, nativeCode: prefix)
    }

    /// The reply a ``scaleKitError`` was made from, or `nil` for any other error
    /// (the cluster router reads `MOVED` and `ASK` back this way).
    package init?(thrown error: ScaleKitError) {
        guard error.code == .serverError, error.message.hasPrefix(Self.thrownPrefix) else { return nil }
        self.init(message: String(error.message.dropFirst(Self.thrownPrefix.count)))
    }

    private static let thrownPrefix = "Redis replied with an error: "
}
