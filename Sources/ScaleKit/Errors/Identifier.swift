/// Checks ids and keys supplied by callers (job ids, video ids).
///
/// Any printable or hostile content round-trips (quotes, CR/LF, SQL and Lua
/// metacharacters, unicode); only what no backend can store is refused:
/// the empty string, NUL bytes, more than ``maximumUTF8Length`` bytes, and
/// U+FFFD.
///
/// Ids are bytes the caller chose, and a Swift `String` is always valid
/// Unicode: invalid UTF-8 can only reach this API after someone decoded it
/// with repair (`String(decoding:as:)`, `CommandLine.arguments`), which
/// turns every invalid sequence into U+FFFD, so `job\xff` and `job\xc0`
/// would become one id. The replacement character is therefore refused in
/// ids on every backend, and callers holding raw bytes (a URL path, argv)
/// decode them with ``decode(_:kind:)``, which refuses invalid UTF-8 instead
/// of repairing it. The `scalekit` tool checks its raw `argv` the same way.
public enum Identifier {
    /// The longest id, in UTF-8 bytes, that every backend stores.
    public static let maximumUTF8Length = 1024

    /// Throws ``ScaleKitError/Code/invalidArgument`` when `value` cannot be stored as an id.
    /// - Parameters:
    ///   - value: the id.
    ///   - kind: what the id is, for the message ("job id", "video id").
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
        if value.unicodeScalars.contains("\u{FFFD}") {
            throw ScaleKitError(
                .invalidArgument,
                "\(kind) contains U+FFFD, the mark of bytes that were not valid UTF-8; ids must be valid UTF-8 text")
        }
    }

    /// Decodes raw id bytes strictly and validates the id.
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` when `bytes` are not
    ///   valid UTF-8 (never repaired into U+FFFD) or the id is not storable.
    public static func decode(_ bytes: some Collection<UInt8>, kind: String) throws(ScaleKitError) -> String {
        guard let value = String(validating: bytes, as: UTF8.self) else {
            throw ScaleKitError(.invalidArgument, "\(kind) is not valid UTF-8")
        }
        try validate(value, kind: kind)
        return value
    }
}
