/// A script call made many times with the same keys and arguments but one,
/// formatted once: the API tracker's check of one quota and key differs
/// from call to call only in its receipt id while a window lasts.
///
/// The `EVALSHA` command is kept in RESP with room for the varying argument;
/// ``filled(with:)`` copies it and writes the value in place (when it has
/// the placeholder's length, as every receipt id has), so a call neither
/// builds its arguments again nor formats them.
package struct RedisPreparedScriptCall: Sendable {
    /// The script.
    package let script: RedisScript
    /// Its keys.
    package let keys: [RedisArgument]
    /// Its arguments, with a placeholder at `varyingIndex`.
    package let arguments: [RedisArgument]
    /// Which argument changes from call to call.
    package let varyingIndex: Int
    /// `EVALSHA sha numkeys keys… arguments…` in RESP, the placeholder in place.
    private let template: [UInt8]
    /// Where the placeholder's bytes start in `template`.
    private let varyingOffset: Int
    /// How many bytes the placeholder has.
    private let varyingLength: Int

    /// Prepares the call; `arguments[varyingIndex]` is the placeholder, of
    /// the length the values usually have.
    package init(script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument], varyingIndex: Int) {
        precondition(arguments.indices.contains(varyingIndex), "the varying argument must be one of the arguments")
        self.script = script
        self.keys = keys
        self.arguments = arguments
        self.varyingIndex = varyingIndex
        var parts: [RedisArgument] = [RedisArgument("EVALSHA"), RedisArgument(script.sha1), RedisArgument(keys.count)]
        parts += keys
        parts += arguments
        var bytes: [UInt8] = []
        varyingOffset = RESP.append(parts, to: &bytes, markingPart: 3 + keys.count + varyingIndex)
        varyingLength = arguments[varyingIndex].count
        template = bytes
    }

    /// The arguments with `value` in place, and the `EVALSHA` bytes to send
    /// (`nil` when `value`'s length differs from the placeholder's: the
    /// command is then formatted as usual).
    package func filled(with value: String) -> (arguments: [RedisArgument], wireBytes: [UInt8]?) {
        var filled = arguments
        filled[varyingIndex] = RedisArgument(value)
        let utf8 = value.utf8
        guard utf8.count == varyingLength else { return (filled, nil) }
        var bytes = template
        bytes.withUnsafeMutableBufferPointer { buffer in
            let target = UnsafeMutableBufferPointer(rebasing: buffer[varyingOffset..<varyingOffset + varyingLength])
            if utf8.withContiguousStorageIfAvailable({ source in _ = target.update(fromContentsOf: source) }) == nil {
                _ = target.update(fromContentsOf: utf8)
            }
        }
        return (filled, bytes)
    }
}
