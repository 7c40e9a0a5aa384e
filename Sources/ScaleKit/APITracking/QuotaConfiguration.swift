import Configuration
import Foundation

extension Quota {
    /// Parses the `SCALEKIT_QUOTAS` syntax: quotas separated by `;`, each
    /// `NAME=LIMIT,LIMIT,…`, each limit `[LIMITNAME:]COUNT/WINDOW[/key][@TIMEZONE]`.
    ///
    /// `WINDOW` is `second`, `minute`, `hour`, `day`, `month` (calendar
    /// windows, UTC unless `@Area/City` names a zone) or `rolling-<N><unit>`
    /// with unit `ms`, `s`, `m`, `h`, `d` (a rolling window). `/key` makes the
    /// limit per key. Spaces around separators are ignored.
    ///
    /// ```
    /// deepgram=100/second,5000/hour/key,200000/day;elevenlabs=10000/rolling-60s/key,2000000/month
    /// ```
    ///
    /// - Parameters:
    ///   - text: the entries, as written in the variable.
    ///   - variable: the name shown in errors.
    /// - Throws: ``ScaleKitError`` `invalidConfiguration` naming the entry (its
    ///   position and text) and what is wrong with it; also for a quota named
    ///   ``Quota/defaultName`` (that one comes from `RAPIDAPI_DAILY_LIMIT` and
    ///   `RAPIDAPI_HOURLY_LIMIT`) or named twice.
    public static func parseList(_ text: String, variable: String = "SCALEKIT_QUOTAS") throws(ScaleKitError) -> [Quota] {
        var quotas: [Quota] = []
        let entries = text.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        for (index, entry) in entries.enumerated() where !entry.isEmpty {
            func fail(_ problem: String) -> ScaleKitError {
                ScaleKitError(.invalidConfiguration, "\(variable) entry \(index + 1) (\(quoted(entry))): \(problem)")
            }
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[1].isEmpty else { throw fail("expected NAME=LIMIT,LIMIT,…") }
            let name = parts[0]
            guard name != defaultName else {
                throw fail("the \(defaultName) quota comes from RAPIDAPI_DAILY_LIMIT and RAPIDAPI_HOURLY_LIMIT; choose another name")
            }
            guard !quotas.contains(where: { $0.name == name }) else { throw fail("quota \(name) is defined twice") }
            var limits: [QuotaLimit] = []
            for item in parts[1].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                do { limits.append(try parseLimit(item)) } catch { throw fail("limit \(quoted(item)): \(error.message)") }
            }
            let quota = Quota(name, limits: limits)
            do { try quota.validate() } catch { throw fail(error.message) }
            quotas.append(quota)
        }
        return quotas
    }

    private static func parseLimit(_ text: String) throws(ScaleKitError) -> QuotaLimit {
        var rest = Substring(text)
        var name: String?
        if let colon = rest.firstIndex(of: ":") {
            name = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        var timeZone = TimeZone.utc
        if let at = rest.firstIndex(of: "@") {
            let identifier = String(rest[rest.index(after: at)...])
            guard let zone = TimeZone(identifier: identifier) else {
                throw ScaleKitError(.invalidConfiguration, "unknown time zone \(quoted(identifier))")
            }
            timeZone = zone
            rest = rest[..<at]
        }
        let fields = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(fields.count), fields.count == 2 || fields[2] == "key" else {
            throw ScaleKitError(.invalidConfiguration, "expected COUNT/WINDOW or COUNT/WINDOW/key")
        }
        guard fields[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }), fields[0].utf8.count <= 16,
            let count = Int(fields[0]), count <= APILimits.maximumCount
        else {
            throw ScaleKitError(.invalidConfiguration, "the count \(quoted(fields[0])) is not a whole number within 0…\(APILimits.maximumCount)")
        }
        return QuotaLimit(count, per: try parseWindow(fields[1], timeZone: timeZone), perKey: fields.count == 3, name: name)
    }

    private static func parseWindow(_ text: String, timeZone: TimeZone) throws(ScaleKitError) -> QuotaWindow {
        if let unit = QuotaCalendarUnit(rawValue: text) { return .calendar(unit, timeZone: timeZone) }
        guard text.hasPrefix("rolling-") else {
            throw ScaleKitError(.invalidConfiguration, "unknown window \(quoted(text)) (second, minute, hour, day, month or rolling-<N>ms|s|m|h|d)")
        }
        let spec = text.dropFirst("rolling-".count)
        let digits = spec.prefix { $0.isASCII && $0.isNumber }
        let unit = spec.dropFirst(digits.count)
        let scale: Int64? = ["ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000][String(unit)]
        guard !digits.isEmpty, digits.count <= 12, let amount = Int64(digits), let scale else {
            throw ScaleKitError(.invalidConfiguration, "a rolling window is rolling-<N> followed by ms, s, m, h or d, not \(quoted(text))")
        }
        return .rolling(.milliseconds(amount * scale))
    }
}

extension Quota {
    /// Reads quotas from a JSON configuration file with swift-configuration
    /// (`SCALEKIT_QUOTAS_FILE`): `quotas` lists the names in order, and
    /// `quota.NAME` lists each quota's limits in the ``parseList(_:variable:)`` syntax.
    ///
    /// ```json
    /// {"quotas": ["deepgram", "elevenlabs"],
    ///  "quota": {"deepgram": ["100/second", "5000/hour/key", "200000/day"],
    ///            "elevenlabs": ["10000/rolling-60s/key", "2000000/month"]}}
    /// ```
    ///
    /// - Throws: ``ScaleKitError`` `invalidConfiguration` naming the file and
    ///   the entry (`quota.tts`, its limit) that is missing or malformed.
    public static func loadFile(_ path: String) async throws(ScaleKitError) -> [Quota] {
        let reader: ConfigReader
        do {
            let location = ConfigReader(provider: InMemoryProvider(values: ["filePath": ConfigValue(.string(path), isSecret: false)]))
            reader = ConfigReader(provider: try await FileProvider<JSONSnapshot>(config: location))
        } catch {
            throw ScaleKitError(.invalidConfiguration, "quota file \(path) cannot be read as JSON", underlying: error)
        }
        let names: [String]
        do { names = try reader.requiredStringArray(forKey: "quotas") } catch {
            throw ScaleKitError(.invalidConfiguration, "quota file \(path): \"quotas\" must be an array of quota names")
        }
        var quotas: [Quota] = []
        for name in names {
            guard isName(name, maximumLength: 64) else {
                throw ScaleKitError(.invalidConfiguration, "quota file \(path): quota name \(quoted(name)) must be 1 to 64 of a-z, 0-9, '-', '_'")
            }
            let limits: [String]
            do { limits = try reader.requiredStringArray(forKey: ConfigKey(["quota", name])) } catch {
                throw ScaleKitError(.invalidConfiguration, "quota file \(path): quota.\(name) must be an array of limits such as \"100/day\"")
            }
            let parsed = try parseList("\(name)=\(limits.joined(separator: ","))", variable: "quota file \(path), quota.\(name),")
            guard !quotas.contains(where: { $0.name == name }) else {
                throw ScaleKitError(.invalidConfiguration, "quota file \(path): quota \(name) is listed twice")
            }
            quotas += parsed
        }
        return quotas
    }
}

