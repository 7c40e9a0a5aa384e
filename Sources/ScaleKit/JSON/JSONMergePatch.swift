/// RFC 7396 JSON merge patch.
public enum JSONMergePatch {
    /// Applies `patch` to `target` as RFC 7396 defines: an object patch merges
    /// member by member, a `null` member removes that member, anything else
    /// replaces the target whole.
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (name, value) in patchMembers {
            if value == .null {
                result.removeValue(forKey: name)
            } else {
                result[name] = apply(value, to: result[name] ?? .null)
            }
        }
        return .object(result)
    }
}
