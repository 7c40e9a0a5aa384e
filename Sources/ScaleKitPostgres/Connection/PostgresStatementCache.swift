import Foundation
package import ScaleKit

/// Whether a connection keeps named prepared statements (`statement_cache`
/// in the URL: `on`, the default, or `off`).
///
/// `on`: each statement is prepared once per connection (`PQsendPrepare`) and
/// then only bound and executed. `off`: every statement is sent unnamed with
/// its parameters (`PQsendQueryParams`: parse, bind and execute in one
/// message sequence) and nothing outlives the transaction, which is what
/// PgBouncer in `pool_mode = transaction` needs: it hands each transaction to
/// any server connection, where a statement prepared on another one does not
/// exist (PgBouncer 1.18, Debian 12, does not track them). ScaleKit sets no
/// session state otherwise (no `SET`, migration locks are `pg_advisory_xact_lock`).
package enum PostgresStatementCache: String, Sendable, Hashable, CaseIterable {
    case on
    case off

    /// The URL parameter ScaleKit reads (and removes before libpq sees the URL).
    package static let parameter = "statement_cache"

    /// Splits ScaleKit's `statement_cache` parameter off a libpq URL or
    /// `key=value` string: returns the string for libpq and the mode (`on` when absent).
    /// - Throws: ``/ScaleKit/ScaleKitError/Code/invalidConfiguration`` for a value other than `on`/`off`.
    package static func split(_ url: String) throws(ScaleKitError) -> (url: String, cache: PostgresStatementCache) {
        var found: String?
        let remaining: String
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") {
            guard let question = url.firstIndex(of: "?") else { return (url, .on) }
            var kept: [Substring] = []
            for item in url[url.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false) {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if pair.first.map(String.init) == parameter {
                    found = pair.count > 1 ? String(pair[1]) : ""
                } else {
                    kept.append(item)
                }
            }
            remaining = String(url[..<question]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        } else {
            // key=value pairs separated by blanks, with optional blanks around '='.
            let pattern = #"(^|\s+)statement_cache\s*=\s*(\S*)"#
            let expression = try! NSRegularExpression(pattern: pattern)
            let range = NSRange(url.startIndex..., in: url)
            if let match = expression.firstMatch(in: url, range: range), let value = Range(match.range(at: 2), in: url) {
                found = String(url[value])
                remaining = expression.stringByReplacingMatches(in: url, range: range, withTemplate: "")
            } else {
                remaining = url
            }
        }
        guard let found else { return (url, .on) }
        guard let cache = PostgresStatementCache(rawValue: found.lowercased()) else {
            throw ScaleKitError(.invalidConfiguration, "\(parameter) must be on or off, not \(found.debugDescription)")
        }
        return (remaining, cache)
    }
}
