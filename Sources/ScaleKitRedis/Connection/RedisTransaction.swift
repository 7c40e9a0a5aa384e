package import ScaleKit

/// Checks what `EXEC` answered.
///
/// Redis runs every queued command even when one of them fails at run time
/// (`ERR invalid expire time`, `WRONGTYPE`), and reports each failure only as
/// an error element inside EXEC's array reply; it does not roll anything back.
/// A transaction has succeeded only when every element is a success.
package enum RedisTransaction {
    /// Throws the first failed command's error (``/ScaleKit/ScaleKitError/Code/serverError``
    /// naming the command), or ``/ScaleKit/ScaleKitError/Code/protocolError`` when the
    /// reply is not an array of one reply per queued command.
    /// - Parameters:
    ///   - reply: EXEC's reply, already known not to be the nil reply (a WATCH conflict).
    ///   - commands: the names of the queued commands, in order, for the message.
    package static func checkExecReplies(_ reply: RedisValue, commands: [String]) throws(ScaleKitError) {
        guard let elements = reply.array, elements.count == commands.count else {
            throw ScaleKitError(.protocolError, "EXEC returned \(reply) for \(commands.count) queued command(s)")
        }
        for (name, element) in zip(commands, elements) {
            if case .error(let error) = element {
                throw ScaleKitError(
                    .serverError, "Redis refused \(name) inside MULTI/EXEC; nothing was stored by it: \(error.message)",
                    nativeCode: error.prefix)
            }
        }
    }
}
