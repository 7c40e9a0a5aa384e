/// A YouTube video id, parsed from any of the URL forms people paste.
///
/// Accepted: `https://www.youtube.com/watch?v=ID` (any parameter order, extra
/// parameters, `m.` / `music.` / no `www.`, http or https, or no scheme),
/// `https://youtu.be/ID?t=42`, `/shorts/ID`, `/embed/ID`, `/live/ID`, `/v/ID`,
/// and a bare 11-character id. An id is exactly 11 characters of
/// `A-Z a-z 0-9 - _`; anything else is refused.
public struct YouTubeVideoID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 11-character id, for example `dQw4w9WgXcQ`.
    public let rawValue: String

    /// `nil` unless `rawValue` is 11 characters of `A-Z a-z 0-9 - _`.
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 11, rawValue.utf8.allSatisfy(Self.isIDByte) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// The canonical watch URL.
    public var watchURL: String { "https://www.youtube.com/watch?v=\(rawValue)" }

    /// Parses a URL or bare id.
    /// - Throws: ``ScaleKitError/Code/invalidArgument`` naming what is wrong.
    public init(parsing input: String) throws(ScaleKitError) {
        let text = input.trimmingWhitespace()
        guard !text.isEmpty, text.utf8.count <= 2048 else {
            throw ScaleKitError(.invalidArgument, text.isEmpty ? "the URL is empty" : "the URL is longer than 2048 bytes")
        }
        if let bare = YouTubeVideoID(rawValue: text) {
            self = bare
            return
        }
        guard let parts = URLParts(text) else {
            throw ScaleKitError(.invalidArgument, "not a URL: \(Self.excerpt(text))")
        }
        let host = parts.host
        let segments = parts.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var candidate: String?
        if host == "youtu.be" || host == "www.youtu.be" {
            candidate = segments.first
        } else if ["youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com", "www.youtube-nocookie.com"].contains(host) {
            if segments.first == "watch" && segments.count == 1 {
                candidate = parts.queryValue("v")
            } else if segments.count >= 2, ["shorts", "embed", "live", "v", "e"].contains(segments[0]) {
                candidate = segments[1]
            }
        } else {
            throw ScaleKitError(.invalidArgument, "not a YouTube URL (host \(Self.excerpt(host))): \(Self.excerpt(text))")
        }
        guard let candidate, let id = YouTubeVideoID(rawValue: candidate) else {
            throw ScaleKitError(.invalidArgument, "no valid video id in \(Self.excerpt(text))")
        }
        self = id
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// At most 100 characters of hostile input in an error message, control characters escaped.
    static func excerpt(_ text: String) -> String {
        let short = text.count > 100 ? String(text.prefix(100)) + "…" : text
        return short.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }
}

/// The host, path and query of an http(s) URL or a scheme-less `host/path`,
/// parsed by hand so no Foundation quirk decides what a YouTube URL is.
private struct URLParts {
    var host: String
    var path: String
    var query: String

    init?(_ text: String) {
        var rest = Substring(text)
        if let schemeEnd = rest.range(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" || scheme == "https" else { return nil }
            rest = rest[schemeEnd.upperBound...]
        }
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if authority.contains("@") { return nil }  // user info has no place in a video link
        if let colon = authority.lastIndex(of: ":") {
            guard authority[authority.index(after: colon)...].allSatisfy(\.isASCII) && authority[authority.index(after: colon)...].allSatisfy(\.isNumber) else { return nil }
            authority = authority[..<colon]
        }
        host = authority.lowercased()
        guard !host.isEmpty, host.contains(".") else { return nil }
        let afterAuthority = rest[authorityEnd...]
        if let question = afterAuthority.firstIndex(of: "?") {
            path = String(afterAuthority[..<question])
            query = String(afterAuthority[afterAuthority.index(after: question)...])
        } else {
            path = String(afterAuthority)
            query = ""
        }
    }

    /// The first value of `name` in the query (`&`- or `;`-separated), not percent-decoded
    /// (a valid id never needs decoding).
    func queryValue(_ name: String) -> String? {
        for pair in query.split(whereSeparator: { $0 == "&" || $0 == ";" }) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[start...end])
    }
}
