import Foundation

/// Returns `text` with the password of any URL in it replaced by `***`.
///
/// `redis://user:secret@host:6379/0` becomes `redis://user:***@host:6379/0`,
/// `redis://:secret@host` becomes `redis://:***@host`, and a libpq keyword
/// string's `password=secret` becomes `password=***`. Every message that may
/// contain a URL goes through this before it reaches an error or a log.
package func redactingCredentials(in text: String) -> String {
    var result = redactURLUserInfo(in: text)
    result = redactKeywordPasswords(in: result)
    return result
}

private func redactURLUserInfo(in text: String) -> String {
    var output = ""
    var rest = Substring(text)
    while let schemeEnd = rest.range(of: "://") {
        output += rest[..<schemeEnd.upperBound]
        rest = rest[schemeEnd.upperBound...]
        guard let at = userInfoEnd(in: rest) else { continue }
        let userInfo = rest[..<at]
        if let colon = userInfo.firstIndex(of: ":") {
            output += userInfo[..<colon] + ":***"
        } else {
            output += userInfo
        }
        rest = rest[at...]
    }
    output += rest
    return output
}

/// Where the user information after `scheme://` ends (its `@`), erring
/// towards redacting too much: passwords are often pasted without
/// percent-encoding, so a `/`, `?`, `#` or even a space in one must not end
/// the redaction early and leak the rest.
///
/// - The last `@` before the next whitespace ends it (`redis://:pa/ss@host`).
/// - Failing that, when the first word is `user:something` with no `/`, the
///   first `@` later on the same line ends it (`postgresql://u:hun ter2@db/x`).
private func userInfoEnd(in rest: Substring) -> Substring.Index? {
    let wordEnd = rest.firstIndex(where: \.isWhitespace) ?? rest.endIndex
    let word = rest[..<wordEnd]
    if let at = word.lastIndex(of: "@") {
        return at
    }
    guard word.contains(":"), !word.contains("/") else { return nil }
    let lineEnd = rest.firstIndex(where: \.isNewline) ?? rest.endIndex
    let line = rest[..<lineEnd]
    let nextURL = line.range(of: "://")?.lowerBound ?? line.endIndex
    return line[..<nextURL].firstIndex(of: "@")
}

private func redactKeywordPasswords(in text: String) -> String {
    var output = ""
    var rest = Substring(text)
    while let match = rest.range(of: "password=", options: .caseInsensitive) {
        output += rest[..<match.upperBound] + "***"
        rest = rest[match.upperBound...]
        let valueEnd: Substring.Index
        if rest.first == "'" {
            valueEnd = rest.dropFirst().firstIndex(of: "'").map { rest.index(after: $0) } ?? rest.endIndex
        } else {
            valueEnd = rest.firstIndex(where: { $0 == "&" || $0.isWhitespace }) ?? rest.endIndex
        }
        rest = rest[valueEnd...]
    }
    output += rest
    return output
}
