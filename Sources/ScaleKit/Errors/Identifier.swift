/// Checks ids and keys supplied by callers (job ids, video ids).
///
/// Any printable or hostile content round-trips (quotes, CR/LF, SQL and Lua
/// metacharacters, unicode); only what no backend can store is refused:
/// the empty string, NUL bytes, and more than ``maximumUTF8Length`` bytes.
public enum Identifier {
    /// The longest id, in UTF-8 bytes, that every backend stores.
    public static let maximumUTF8Length = 1024

    /// Throws ``ScaleKitError/Code/invalidArgument`` when `value` cannot be stored as an id.
    /// - Parameter kind: what the id is, for the message ("job id", "video id").
    public static func validate(_ value: String, kind: String) throws(ScaleKitError) {
        if value.isEmpty {
            throw ScaleKitError(.invalidArgument, "\(kind) must not be empty")
        }
        if value.utf8.count > maximumUTF8Length {
            throw ScaleKitError(
                .invalidArgument,
                "\(kind) is \(value.utf8.count) bytes long; the maximum is \(maximumUTF8Length)")
        }
        if value.utf8.contains(0) {
            throw ScaleKitError(.invalidArgument, "\(kind) must not contain NUL bytes")
        }
    }
}
