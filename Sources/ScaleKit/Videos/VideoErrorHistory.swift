import Foundation

/// A video's error history as the SQL backends store it: a JSON array of
/// `{"attempt": n, "message": "…", "at": microseconds since 1970}`, oldest first.
package enum VideoErrorHistory {
    private struct Entry: Codable {
        var attempt: Int
        var message: String
        var at: Int64
    }

    package static func encode(_ errors: [VideoAttemptError]) -> String {
        let entries = errors.map { Entry(attempt: $0.attempt, message: $0.message, at: UnixMicroseconds.from($0.at)) }
        let data = (try? JSONEncoder().encode(entries)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// - Throws: ``ScaleKitError/Code/corruptData`` when the stored text is not such an array.
    package static func decode(_ text: String?) throws(ScaleKitError) -> [VideoAttemptError] {
        // Most videos have no error: skip the JSON decoder for the empty array.
        guard let text, !text.isEmpty, text != "[]" else { return [] }
        do {
            return try JSONDecoder().decode([Entry].self, from: Data(text.utf8)).map {
                VideoAttemptError(attempt: $0.attempt, message: $0.message, at: UnixMicroseconds.date($0.at))
            }
        } catch {
            throw ScaleKitError(.corruptData, "a video's error history is not a JSON array of attempts")
        }
    }
}
