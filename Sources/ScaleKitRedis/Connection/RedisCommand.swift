/// One Redis command: its name and arguments, each a binary-safe byte string.
///
/// Arguments are sent with `redisAppendCommandArgv`, never formatted into a
/// command line, so spaces, CR/LF, quotes and NUL bytes in keys and values
/// need no escaping.
package struct RedisCommand: Sendable, Hashable {
    /// The name and the arguments, in order.
    package var arguments: [[UInt8]]

    /// A command from its name and arguments.
    package init(_ name: String, _ arguments: [RedisArgument] = []) {
        var all: [[UInt8]] = []
        all.reserveCapacity(arguments.count + 1)
        all.append(Array(name.utf8))
        for argument in arguments { all.append(argument.bytes) }
        self.arguments = all
    }

    /// A command from raw byte strings (the first one is the name).
    package init(rawArguments: [[UInt8]]) {
        precondition(!rawArguments.isEmpty, "a Redis command needs a name")
        self.arguments = rawArguments
    }

    /// The command's name in upper case, for logs and error messages (never its arguments, which may be secrets).
    package var name: String {
        String(decoding: arguments.first ?? [], as: UTF8.self).uppercased()
    }
}

/// One argument of a ``RedisCommand``.
package struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    /// The bytes sent.
    package var bytes: [UInt8]

    /// Raw bytes.
    package init(bytes: [UInt8]) { self.bytes = bytes }
    /// A string, sent as UTF-8.
    package init(_ string: String) { bytes = Array(string.utf8) }
    /// An integer, sent in decimal.
    package init(_ integer: Int) { bytes = Array(String(integer).utf8) }

    /// A string literal, sent as UTF-8.
    package init(stringLiteral value: String) { self.init(value) }
    /// An integer literal, sent in decimal.
    package init(integerLiteral value: Int) { self.init(value) }
}
