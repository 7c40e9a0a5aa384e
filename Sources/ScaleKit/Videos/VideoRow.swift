/// How a row of the `videos` table becomes a ``Video``, for every SQL
/// backend: the columns in the order both backends select them (`video_id,
/// title, original_url, state, attempts, lease_owner, lease_expires_at,
/// last_error, created_at, updated_at, not_before, errors`), instants as
/// whole microseconds since 1970, the error history as its JSON text.
/// Each backend only says how to read one column as text or as an integer.
package enum VideoRow {
    /// - Throws: ``ScaleKitError/Code/corruptData`` for a missing or unknown
    ///   required value, or an error history that is not a JSON array.
    package static func decode(
        text: (_ column: Int) -> String?, integer: (_ column: Int) -> Int64?
    ) throws(ScaleKitError) -> Video {
        guard let id = text(0), let state = text(3).flatMap(VideoState.init(rawValue:)), let attempts = integer(4),
            let createdAt = integer(8), let updatedAt = integer(9)
        else {
            throw ScaleKitError(.corruptData, "a row of the videos table has a missing or unknown value")
        }
        return Video(
            id: id, title: text(1), originalURL: text(2), state: state, attempts: Int(attempts),
            leaseOwner: text(5).map(ClaimToken.init(rawValue:)),
            leaseExpiresAt: integer(6).map(UnixMicroseconds.date),
            lastError: text(7),
            createdAt: UnixMicroseconds.date(createdAt), updatedAt: UnixMicroseconds.date(updatedAt),
            notBefore: integer(10).map(UnixMicroseconds.date), errors: try VideoErrorHistory.decode(text(11)))
    }
}
