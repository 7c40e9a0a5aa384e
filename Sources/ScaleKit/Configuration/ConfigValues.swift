import Configuration
import Foundation

/// Reads variables as strings and parses them strictly, so a malformed value
/// is an error naming the variable instead of a silent default.
struct ConfigValues {
    let reader: ConfigReader

    /// The trimmed value, or `nil` when unset or blank.
    func nonEmptyString(_ variable: Variable) throws(ScaleKitError) -> String? {
        guard let raw = reader.string(forKey: variable.key, isSecret: true) else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    func integer(_ variable: Variable, default defaultValue: Int, minimum: Int, maximum: Int = .max) throws(ScaleKitError) -> Int {
        guard let text = try nonEmptyString(variable) else { return defaultValue }
        guard let value = Int(text) else {
            throw invalid(variable, text, "is not a whole number")
        }
        guard value >= minimum else {
            throw invalid(variable, text, "must be at least \(minimum)")
        }
        guard value <= maximum else {
            throw invalid(variable, text, "must be at most \(maximum)")
        }
        return value
    }

    /// Whole or fractional seconds.
    func seconds(_ variable: Variable, default defaultValue: Double, allowZero: Bool) throws(ScaleKitError) -> Double {
        guard let text = try nonEmptyString(variable) else { return defaultValue }
        guard let value = Double(text), value.isFinite else {
            throw invalid(variable, text, "is not a number of seconds")
        }
        guard allowZero ? value >= 0 : value > 0 else {
            throw invalid(variable, text, allowZero ? "must not be negative" : "must be positive")
        }
        guard value == 0 || value >= 0.001 else {
            throw invalid(variable, text, "is less than a millisecond")
        }
        guard value <= 365 * 86_400 else {
            throw invalid(variable, text, "is more than a year")
        }
        return value
    }

    func url(_ variable: Variable, schemes: [String]) throws(ScaleKitError) -> String? {
        guard let text = try nonEmptyString(variable) else { return nil }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw invalid(variable, text, "is not a valid URL")
        }
        guard schemes.contains(scheme) else {
            throw invalid(variable, text, "has scheme '\(scheme)'; expected \(schemes.joined(separator: ", "))")
        }
        if scheme != "sqlite", (components.host ?? "").isEmpty {
            throw invalid(variable, text, "names no host")
        }
        if let port = components.port, !(1...65_535).contains(port) {
            throw invalid(variable, text, "has port \(port) out of range")
        }
        return text
    }

    private func invalid(_ variable: Variable, _ value: String, _ problem: String) -> ScaleKitError {
        ScaleKitError(.invalidConfiguration, "\(variable.name)=\(printable(redactingCredentials(in: value))) \(problem)")
    }
}

/// `text` with control characters escaped (`\r`, `\n`, `\u{1B}`), so a
/// hostile value cannot forge extra lines in a log or a terminal.
package func printable(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
    return text.unicodeScalars.map { scalar in
        scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
    }.joined()
}
