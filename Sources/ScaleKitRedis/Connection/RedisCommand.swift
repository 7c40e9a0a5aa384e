/// One Redis command: its name and arguments, each a binary-safe byte string.
///
/// Arguments are sent with `redisAppendCommandArgv`, never formatted into a
/// command line, so spaces, CR/LF, quotes and NUL bytes in keys and values
/// need no escaping.
package struct RedisCommand: Sendable, Hashable {
    /// The name, then the arguments, in their Swift form until they are written.
    package var parts: [RedisArgument]
    /// `parts` already in RESP, when the caller formatted them (a
    /// ``RedisPreparedScriptCall``); the multiplexed connection sends these
    /// bytes as they are. Not part of the command's identity.
    package var wireBytes: [UInt8]?

    /// A command from its name and arguments.
    package init(_ name: String, _ arguments: [RedisArgument] = []) {
        var parts: [RedisArgument] = []
        parts.reserveCapacity(arguments.count + 1)
        parts.append(RedisArgument(name))
        parts.append(contentsOf: arguments)
        self.parts = parts
    }

    /// A command from its parts (the first one is the name).
    package init(parts: [RedisArgument], wireBytes: [UInt8]? = nil) {
        precondition(!parts.isEmpty, "a Redis command needs a name")
        self.parts = parts
        self.wireBytes = wireBytes
    }

    package static func == (lhs: RedisCommand, rhs: RedisCommand) -> Bool { lhs.parts == rhs.parts }
    package func hash(into hasher: inout Hasher) { hasher.combine(parts) }

    /// A command from raw byte strings (the first one is the name).
    package init(rawArguments: [[UInt8]]) {
        self.init(parts: rawArguments.map(RedisArgument.init(bytes:)))
    }

    /// The name and the arguments as bytes, in order (for hiredis's argv).
    package var arguments: [[UInt8]] { parts.map(\.bytes) }

    /// The command's name in upper case, for logs and error messages (never its arguments, which may be secrets).
    package var name: String {
        String(decoding: parts.first?.bytes ?? [], as: UTF8.self).uppercased()
    }
}

/// One argument of a ``RedisCommand``.
///
/// Kept as given (text, a whole number, or bytes) until it is written, so an
/// argument such as a count or a short name costs no allocation of its own:
/// the multiplexed connection formats it straight into the outgoing bytes.
package struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    private enum Storage: Sendable {
        case bytes([UInt8])
        case text(String)
        case integer(Int)
    }

    private var storage: Storage

    /// The bytes sent.
    package var bytes: [UInt8] {
        get {
            switch storage {
            case .bytes(let bytes): return bytes
            case .text(let text): return Array(text.utf8)
            case .integer(let value): return Array(String(value).utf8)
            }
        }
        set { storage = .bytes(newValue) }
    }

    /// Raw bytes.
    package init(bytes: [UInt8]) { storage = .bytes(bytes) }
    /// A string, sent as UTF-8.
    package init(_ string: String) { storage = .text(string) }
    /// An integer, sent in decimal.
    package init(_ integer: Int) { storage = .integer(integer) }

    /// A string literal, sent as UTF-8.
    package init(stringLiteral value: String) { self.init(value) }
    /// An integer literal, sent in decimal.
    package init(integerLiteral value: Int) { self.init(value) }

    /// How many bytes are sent.
    package var count: Int {
        switch storage {
        case .bytes(let bytes): return bytes.count
        case .text(let text): return text.utf8.count
        case .integer(let value): return RESP.decimalLength(value)
        }
    }

    /// Appends the bytes sent to `buffer`, without making them first.
    package func append(to buffer: inout [UInt8]) {
        switch storage {
        case .bytes(let bytes): buffer.append(contentsOf: bytes)
        case .text(let text): buffer.append(contentsOf: text.utf8)
        case .integer(let value): RESP.appendDecimal(value, to: &buffer)
        }
    }

    // Equal when the same bytes are sent, whatever form they were given in.
    package static func == (lhs: RedisArgument, rhs: RedisArgument) -> Bool { lhs.bytes == rhs.bytes }
    package func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
