import Foundation

/// Returns `text` with the password of any URL in it replaced by `***`.
///
/// `redis://user:secret@host:6379/0` becomes `redis://user:***@host:6379/0`,
/// `redis://:secret@host` becomes `redis://:***@host`, and a libpq keyword
/// string's `password=secret` becomes `password=***`. Every message that may
/// contain a URL goes through this before it reaches an error or a log.
public func redactingCredentials(in text: String) -> String {
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
        // The authority ends at the first '/', '?', '#' or whitespace.
        let authorityEnd =
            rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" || $0.isWhitespace })
            ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                output += userInfo[..<colon] + ":***"
            } else {
                output += userInfo
            }
            output += authority[at...]
        } else {
            output += authority
        }
        rest = rest[authorityEnd...]
    }
    output += rest
    return output
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
